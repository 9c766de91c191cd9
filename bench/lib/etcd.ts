// etcd for the control-plane bench: one real member (Debian's etcd-server, or $WEFT_ETCD_BIN) on free
// loopback ports with a fresh data dir under bench/work, pinned like every bench process and stopped
// by stopAll. The same start-up as test/support/etcd.ts, kept apart so bench code never imports tests.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { freePort, sleep, spawnPinned, workDir, type BenchProcess } from './processes.ts';

export interface BenchEtcd {
  /** `127.0.0.1:PORT`: the host part of `weft control --store etcd://…`. */
  readonly address: string;
  readonly proc: BenchProcess;
  /** Stops the member and removes its data dir. */
  stop(): Promise<void>;
}

const etcdBin = process.env.WEFT_ETCD_BIN ?? 'etcd';

/** Throws with the fix when etcd is missing: the etcd scenario must fail loudly, not shrink. */
export function requireEtcd(): void {
  const probe = spawnSync(etcdBin, ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error(`the etcd scenario needs etcd, but '${etcdBin}' cannot run (${probe.error?.message ?? probe.stderr}); install it with: apt-get install -y etcd-server, or set WEFT_ETCD_BIN`);
  }
}

/** Starts one member named `name` on `cpu` and resolves once its /health says true (within `timeoutMs`). */
export async function startBenchEtcd(name: string, cpu: string, timeoutMs = 30_000): Promise<BenchEtcd> {
  requireEtcd();
  const dataDir = path.join(workDir, name);
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const clientUrl = `http://127.0.0.1:${clientPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const proc = spawnPinned(name, etcdBin, [
    '--name', name,
    '--data-dir', path.join(dataDir, 'data'),
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `${name}=${peerUrl}`,
    '--initial-cluster-state', 'new',
    '--log-level', 'warn',
  ], { cpu });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(2000) })
      .then(async (r) => r.ok && ((await r.json()) as { health?: string }).health === 'true', () => false);
    if (ok) break;
    if (proc.exited() || Date.now() > deadline) {
      await proc.stop();
      throw new Error(`etcd never became healthy on ${clientUrl} (${proc.exited() ? 'exited' : 'still running'}):\n${proc.output().slice(-2000)}`);
    }
    await sleep(100);
  }
  return {
    address: `127.0.0.1:${clientPort}`,
    proc,
    async stop() {
      await proc.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
