// A real etcd for tests (Debian's `etcd-server`, binary `etcd`): one member on free loopback ports
// with a temporary data dir, started and waited on until /health says so, killed and removed after.
// Used by the store's shared test suite (src/control/store) and the etcd integration tests.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EtcdServer {
  /** `127.0.0.1:PORT`, the form `weft control --store etcd://…` takes. */
  readonly address: string;
  /** `http://127.0.0.1:PORT`, the form the etcd3 client takes. */
  readonly clientUrl: string;
  /** Everything etcd wrote so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** The etcd binary: $WEFT_ETCD_BIN, else `etcd` on PATH. */
export const etcdBin = process.env.WEFT_ETCD_BIN ?? 'etcd';

/**
 * Throws (never skips) when etcd is not installed: the etcd store's tests are part of the suite,
 * and a missing binary must show as a failure with the fix, not as a silently smaller run.
 */
export function requireEtcd(): void {
  const probe = spawnSync(etcdBin, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(
      `etcd is required for the etcd store tests but '${etcdBin}' cannot run (${probe.error?.message ?? probe.stderr}); ` +
        'install it with: apt-get install -y etcd-server (.ci/run does), or set WEFT_ETCD_BIN',
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function healthy(clientUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.json()) as { health?: string };
    return res.ok && body.health === 'true';
  } catch {
    return false;
  }
}

/**
 * Starts a single-member etcd and resolves once it is healthy (within `timeoutMs`, default 30 s on
 * a loaded machine), on `clientPort` when given (a free one otherwise). Rejects with etcd's own output when it exits or never becomes healthy.
 */
export async function startEtcd(options: { timeoutMs?: number; clientPort?: number } = {}): Promise<EtcdServer> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  requireEtcd();
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'weft-etcd-'));
  // Two ports picked then released: a small race with other tests, retried once below.
  for (let attempt = 1; ; attempt++) {
    const clientPort = options.clientPort ?? (await freePort());
    const peerPort = await freePort();
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const child: ChildProcess = spawn(
      etcdBin,
      [
        '--name', 'weft-test',
        '--data-dir', path.join(dataDir, `member-${attempt}`),
        '--listen-client-urls', clientUrl,
        '--advertise-client-urls', clientUrl,
        '--listen-peer-urls', peerUrl,
        '--initial-advertise-peer-urls', peerUrl,
        '--initial-cluster', `weft-test=${peerUrl}`,
        '--initial-cluster-state', 'new',
        '--log-level', 'warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    let exited = false;
    const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
    const deadline = Date.now() + timeoutMs;
    while (!exited && Date.now() < deadline && !(await healthy(clientUrl))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const stop = async (): Promise<void> => {
      if (!exited) {
        child.kill('SIGKILL');
        await exit;
      }
    };
    if (!exited && Date.now() < deadline) {
      return {
        address: `127.0.0.1:${clientPort}`,
        clientUrl,
        output: () => out,
        async stop() {
          await stop();
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    if (attempt < 2 && /address already in use/.test(out)) continue;
    await rm(dataDir, { recursive: true, force: true });
    throw new Error(`etcd did not become healthy on ${clientUrl} within ${timeoutMs} ms:\n${out}`);
  }
}
