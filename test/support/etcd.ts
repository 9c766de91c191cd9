// A real etcd for tests (Debian's `etcd-server`, binary `etcd`): one member, or a cluster of
// several, on free loopback ports with temporary data dirs, started and waited on until /health
// says so, killed and removed after. Members can be killed and restarted (same ports, same data)
// for failure tests. Used by the store's shared test suite and the etcd integration tests.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EtcdMember {
  readonly name: string;
  /** `127.0.0.1:PORT`, the form `weft control --store etcd://…` takes. */
  readonly address: string;
  /** `http://127.0.0.1:PORT`, the form the etcd3 client takes. */
  readonly clientUrl: string;
  /** Everything this member wrote so far (for failure messages). */
  output(): string;
  running(): boolean;
  /** SIGKILL, data kept. */
  kill(): Promise<void>;
  /** Starts it again on the same ports with the same data; resolves when it is healthy. */
  restart(): Promise<void>;
}

export interface EtcdCluster {
  readonly members: readonly EtcdMember[];
  /** Every member's `HOST:PORT`, comma-separated: the host list of an `etcd://` URL. */
  readonly addresses: string;
  readonly clientUrls: readonly string[];
  stop(): Promise<void>;
}

export interface EtcdServer {
  /** `127.0.0.1:PORT`, the form `weft control --store etcd://…` takes. */
  readonly address: string;
  /** `http://127.0.0.1:PORT`, the form the etcd3 client takes. */
  readonly clientUrl: string;
  readonly member: EtcdMember;
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

/** A member as the start-up below drives it. */
interface Member extends EtcdMember {
  launch(): void;
  waitHealthy(): Promise<void>;
}

interface MemberPlan {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/**
 * Starts a cluster of `size` members (1 or 3 in practice) and resolves once every member is
 * healthy (within `timeoutMs`, default 30 s on a loaded machine). Rejects with etcd's own output
 * when a member exits or never becomes healthy. `clientPort` fixes the first member's client port.
 */
export async function startEtcdCluster(size: number, options: { timeoutMs?: number; clientPort?: number } = {}): Promise<EtcdCluster> {
  requireEtcd();
  const timeoutMs = options.timeoutMs ?? 30_000;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'weft-etcd-'));
  const plans: MemberPlan[] = [];
  for (let i = 0; i < size; i++) {
    plans.push({ name: `m${i}`, clientPort: i === 0 && options.clientPort ? options.clientPort : await freePort(), peerPort: await freePort() });
  }
  const initialCluster = plans.map((p) => `${p.name}=http://127.0.0.1:${p.peerPort}`).join(',');
  const clusterToken = path.basename(dataDir);

  const members = plans.map((plan): Member => {
    const clientUrl = `http://127.0.0.1:${plan.clientPort}`;
    const peerUrl = `http://127.0.0.1:${plan.peerPort}`;
    let out = '';
    let child: ChildProcess | undefined;
    let exit: Promise<void> = Promise.resolve();
    let alive = false;
    const launch = (): void => {
      child = spawn(
        etcdBin,
        [
          '--name', plan.name,
          '--data-dir', path.join(dataDir, plan.name),
          '--listen-client-urls', clientUrl,
          '--advertise-client-urls', clientUrl,
          '--listen-peer-urls', peerUrl,
          '--initial-advertise-peer-urls', peerUrl,
          '--initial-cluster', initialCluster,
          '--initial-cluster-token', clusterToken,
          '--initial-cluster-state', 'new',
          '--log-level', 'warn',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      alive = true;
      child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr!.on('data', (c: Buffer) => (out += c.toString()));
      exit = new Promise<void>((resolve) => child!.once('exit', () => ((alive = false), resolve())));
    };
    const waitHealthy = async (): Promise<void> => {
      const deadline = Date.now() + timeoutMs;
      while (alive && Date.now() < deadline) {
        if (await healthy(clientUrl)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`etcd member ${plan.name} did not become healthy on ${clientUrl} within ${timeoutMs} ms (${alive ? 'still running' : 'exited'}):\n${out}`);
    };
    const kill = async (): Promise<void> => {
      if (alive) {
        child?.kill('SIGKILL');
        await exit;
      }
    };
    return {
      name: plan.name,
      address: `127.0.0.1:${plan.clientPort}`,
      clientUrl,
      output: () => out,
      running: () => alive,
      kill,
      launch,
      waitHealthy,
      async restart() {
        await kill();
        launch();
        await waitHealthy();
      },
    };
  });

  const stop = async (): Promise<void> => {
    await Promise.all(members.map((m) => m.kill()));
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    // All at once: a member of a new cluster is healthy only once a quorum has formed.
    for (const m of members) m.launch();
    await Promise.all(members.map((m) => m.waitHealthy()));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    members,
    addresses: members.map((m) => m.address).join(','),
    clientUrls: members.map((m) => m.clientUrl),
    stop,
  };
}

/** A single-member etcd (see startEtcdCluster); `clientPort` fixes its client port. */
export async function startEtcd(options: { timeoutMs?: number; clientPort?: number } = {}): Promise<EtcdServer> {
  const cluster = await startEtcdCluster(1, options);
  const member = cluster.members[0];
  return { address: member.address, clientUrl: member.clientUrl, member, output: () => member.output(), stop: () => cluster.stop() };
}
