// Certificates for the non-weft mesh contenders (nginx-mesh, haproxy-mesh, node-floor-2hops-tls): a
// P-256 CA and two P-256 leaf certificates (client and server side) made with openssl once per bench
// run under bench/work/mesh-certs/, in the same shape as weft's own (ECDSA P-256, SPIFFE URI SANs).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { workDir } from './processes.ts';

/** The DNS name in the server certificate, which nginx and HAProxy verify (they cannot check a URI SAN). */
export const MESH_SERVER_NAME = 'bench-mesh.default.svc';

export interface MeshCerts {
  readonly dir: string;
  /** CA certificate, PEM: the trust bundle both sides verify against. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Certificate then key in one PEM file, as HAProxy's `crt` wants them. */
  readonly serverPem: string;
  readonly clientPem: string;
}

let made: MeshCerts | undefined;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Makes (once per process) the CA and the two leaves; every file path is absolute. Throws if openssl fails. */
export function meshCerts(): MeshCerts {
  if (made) return made;
  const dir = path.join(workDir, 'mesh-certs');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const p = (f: string): string => path.join(dir, f);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=weft bench mesh CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  for (const [name, san, usage] of [
    ['server', `DNS:${MESH_SERVER_NAME},URI:spiffe://weft.local/ns/default/svc/bench-mesh`, 'serverAuth'],
    ['client', 'URI:spiffe://weft.local/ns/default/svc/bench-client', 'clientAuth'],
  ] as const) {
    writeFileSync(p(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=${usage}\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=bench-${name}`], dir);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`], dir);
    writeFileSync(p(`${name}.pem`), readFileSync(p(`${name}.crt`), 'utf8') + readFileSync(p(`${name}.key`), 'utf8'));
  }
  if (!existsSync(p('client.pem'))) throw new Error(`openssl made no certificates in ${dir}`);
  made = { dir, ca: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key'), clientCert: p('client.crt'), clientKey: p('client.key'), serverPem: p('server.pem'), clientPem: p('client.pem') };
  return made;
}
