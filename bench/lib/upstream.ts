// The shared upstream every contender proxies to, pinned beside the load generator: nginx returning a
// static 100-byte body (default: the fastest stable choice), or a bare node:http server.

import path from 'node:path';
import { benchDir, freePort, nodeBin, spawnPinned, waitForPort, type BenchProcess } from './processes.ts';
import { nginxUpstreamConfig } from './configs.ts';

export type UpstreamKind = 'nginx' | 'node';

export async function startUpstream(kind: UpstreamKind, cpu: string): Promise<{ port: number; proc: BenchProcess; description: string }> {
  const port = await freePort();
  const proc =
    kind === 'nginx'
      ? spawnPinned('upstream-nginx', 'nginx', ['-e', 'stderr', '-c', nginxUpstreamConfig(port)], { cpu })
      : spawnPinned('upstream-node', nodeBin, [path.join(benchDir, 'peers', 'node-upstream.ts'), String(port)], { cpu });
  await waitForPort(port, 20_000, proc);
  const res = await fetch(`http://127.0.0.1:${port}/`);
  const body = await res.text();
  if (res.status !== 200 || body.length !== 100) throw new Error(`upstream answered ${res.status} with ${body.length} bytes, want 200 with 100`);
  const description = kind === 'nginx' ? 'nginx `return 200` with a 100-byte body, 1 worker' : 'node:http server with a 100-byte body';
  return { port, proc, description };
}
