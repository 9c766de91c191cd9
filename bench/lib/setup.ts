// The bench's own setup, idempotent: Debian packages (nginx, HAProxy, wrk, taskset) when missing,
// the npm peers in the isolated bench/work/peers, and a description of the machine and versions.

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { nodeBin, repoRoot, workDir } from './processes.ts';

const APT = [
  { bin: 'nginx', pkg: 'nginx' },
  { bin: 'haproxy', pkg: 'haproxy' },
  { bin: 'wrk', pkg: 'wrk' },
  { bin: 'taskset', pkg: 'util-linux' },
];
const PEERS = ['http-proxy', 'fastify', '@fastify/reply-from'];
export const peersDir = path.join(workDir, 'peers');

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status})`);
}

export function ensureTools(log: (msg: string) => void): void {
  const missing = APT.filter((t) => !has(t.bin)).map((t) => t.pkg);
  if (missing.length) {
    log(`installing ${missing.join(', ')} with apt-get`);
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', ...missing]);
  }
  const installed = PEERS.every((p) => existsSync(path.join(peersDir, 'node_modules', p, 'package.json')));
  if (!installed) {
    log(`installing ${PEERS.join(', ')} into ${path.relative(process.cwd(), peersDir)}`);
    mkdirSync(peersDir, { recursive: true });
    if (!existsSync(path.join(peersDir, 'package.json'))) writeFileSync(path.join(peersDir, 'package.json'), '{ "name": "weft-bench-peers", "private": true }\n');
    run('npm', ['install', '--no-audit', '--no-fund', '--prefix', peersDir, ...PEERS]);
  }
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n')[0] ?? '';
}

function peerVersion(name: string): string {
  try {
    return JSON.parse(readFileSync(path.join(peersDir, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return 'missing';
  }
}

/** Which weft was measured: a hash of src/ and its newest change (the tree may be mid-edit). */
export function weftSource(): { srcSha256: string; files: number; newestChange: string } {
  const files = (readdirSync(path.join(repoRoot, 'src'), { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .sort();
  const hash = createHash('sha256');
  let newest = 0;
  for (const f of files) {
    const full = path.join(repoRoot, 'src', f);
    hash.update(f).update('\0').update(readFileSync(full)).update('\0');
    newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return { srcSha256: hash.digest('hex').slice(0, 16), files: files.length, newestChange: new Date(newest).toISOString() };
}

export function machineInfo() {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    node: execFileSync(nodeBin, ['--version'], { encoding: 'utf8' }).trim(),
    nginx: firstLine('nginx', ['-v']).replace(/^nginx version: /, ''),
    haproxy: firstLine('haproxy', ['-v']).replace(/ - https.*$/, ''),
    wrk: firstLine('wrk', ['-v']).replace(/ Copyright.*$/, ''),
    peers: Object.fromEntries(PEERS.map((p) => [p, peerVersion(p)])),
    weft: weftSource(),
  };
}

export type MachineInfo = ReturnType<typeof machineInfo>;
