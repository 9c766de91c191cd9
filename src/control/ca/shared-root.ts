// Control-plane replicas on one etcd must sign under one root: the first replica to start stores its
// generated root (key and certificate) in the store with a create-if-absent transaction, and every
// replica writes that root into its own <dataDir>/ca/ before the CA opens. The operator's CA
// (--ca-cert/--ca-key) is never stored: each replica reads it from its own files.

import { readFile, mkdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { errorMessage, WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { StoreCluster } from '../store/store.ts';
import { LEAVES_FILE } from './certificate-authority.ts';
import { CA_CERT_FILE, CA_DIR, CA_KEY_FILE, writeFileAtomic } from './root-files.ts';

/** The store key (under `<prefix>/cluster/`) holding the generated root: `{"key": PEM, "cert": PEM}`. */
export const SHARED_ROOT_NAME = 'ca-root';

interface StoredRoot {
  readonly key: string;
  readonly cert: string;
}

async function readLocal(dir: string): Promise<StoredRoot | undefined> {
  try {
    return { key: await readFile(join(dir, CA_KEY_FILE), 'utf8'), cert: await readFile(join(dir, CA_CERT_FILE), 'utf8') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Makes `<dataDir>/ca/` hold the root every replica shares. `generate` creates a local root when
 * there is none yet (opening and closing the CA does). Returns whether the local root was replaced
 * by the stored one. Throws WEFT_ERR_CA_LOAD when the stored value is not a root weft wrote.
 */
export async function useSharedRoot(options: { readonly dataDir: string; readonly cluster: StoreCluster; readonly log: Logger; readonly generate: () => Promise<void> }): Promise<boolean> {
  const dir = join(options.dataDir, CA_DIR);
  let local = await readLocal(dir);
  if (local === undefined) {
    await options.generate();
    local = await readLocal(dir);
    if (local === undefined) throw new WeftError('WEFT_ERR_CA_LOAD', `no CA root in ${dir} after creating one`, 500);
  }
  const storedText = await options.cluster.createIfAbsent(SHARED_ROOT_NAME, JSON.stringify(local));
  let stored: StoredRoot;
  try {
    stored = JSON.parse(storedText) as StoredRoot;
    if (typeof stored.key !== 'string' || typeof stored.cert !== 'string') throw new Error('key and cert must be PEM strings');
    new X509Certificate(stored.cert);
  } catch (err) {
    throw new WeftError('WEFT_ERR_CA_LOAD', `the CA root stored for the replicas (${SHARED_ROOT_NAME}) is not one weft wrote: ${errorMessage(err)}`, 500);
  }
  if (stored.cert === local.cert && stored.key === local.key) {
    options.log.info('this replica signs under the shared CA root', { fingerprint256: new X509Certificate(stored.cert).fingerprint256 });
    return false;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // The key first, as the CA itself writes them; what this replica signed before no one else trusts.
  await writeFileAtomic(join(dir, CA_KEY_FILE), stored.key, 0o600);
  await writeFileAtomic(join(dir, CA_CERT_FILE), stored.cert, 0o644);
  // Issued-leaf records belong to the replaced root.
  await unlink(join(dir, LEAVES_FILE)).catch(() => {});
  options.log.warn('replaced this replica\'s CA root by the one the replicas share (from the store)', { fingerprint256: new X509Certificate(stored.cert).fingerprint256 });
  return true;
}
