// A certificate authority for tests, made with the openssl command line (independent of weft's own
// CA code): a P-256 root and leaf certificates with whatever URI SAN a test needs.

import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface TestLeaf {
  /** PKCS#8 PEM. */
  readonly key: string;
  readonly cert: string;
}

export interface TestCa {
  readonly rootPem: string;
  /** A leaf naming `uri` in its one URI SAN; for `publicKeyPem` when given, else for a new key. */
  issue(uri: string, publicKeyPem?: string): TestLeaf;
  remove(): void;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export function createTestCa(name = 'test root'): TestCa {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-test-ca-'));
  const file = (f: string): string => path.join(dir, f);
  const rootKey = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  writeFileSync(file('root.key'), rootKey.export({ type: 'pkcs8', format: 'pem' }));
  openssl(['req', '-x509', '-new', '-key', file('root.key'), '-subj', `/O=${name}`, '-days', '2', '-out', file('root.pem'),
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  let n = 0;
  return {
    rootPem: readFileSync(file('root.pem'), 'utf8'),
    issue(uri, publicKeyPem) {
      n++;
      const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const key = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
      writeFileSync(file(`leaf${n}.key`), key);
      // openssl signs a CSR, which carries the leaf's own key; -force_pubkey swaps in another one.
      openssl(['req', '-new', '-key', file(`leaf${n}.key`), '-subj', '/O=weft', '-out', file(`leaf${n}.csr`)]);
      writeFileSync(file(`leaf${n}.ext`), `subjectAltName=${uri}\nextendedKeyUsage=serverAuth,clientAuth\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n`);
      const force: string[] = [];
      if (publicKeyPem) {
        writeFileSync(file(`leaf${n}.pub`), publicKeyPem);
        force.push('-force_pubkey', file(`leaf${n}.pub`));
      }
      openssl(['x509', '-req', '-in', file(`leaf${n}.csr`), '-CA', file('root.pem'), '-CAkey', file('root.key'), '-CAcreateserial', '-days', '1',
        '-extfile', file(`leaf${n}.ext`), ...force, '-out', file(`leaf${n}.pem`)]);
      return { key, cert: readFileSync(file(`leaf${n}.pem`), 'utf8') };
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
