// Bench processes: spawns each piece pinned to a CPU (`taskset -c`), logs its output under
// bench/work/logs, waits for its port, and stops exactly the PIDs it started (never by name).

import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const repoRoot = path.resolve(benchDir, '..');
export const workDir = path.join(benchDir, 'work');
export const nodeBin = path.join(repoRoot, 'node_modules', '.bin', 'node');
export const weftBin = path.join(repoRoot, 'bin', 'weft');

export interface BenchProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited(): boolean;
  stop(): Promise<void>;
}

const running = new Set<BenchProcess>();

export interface SpawnOptions {
  /** CPU list for taskset, e.g. "1"; absent: not pinned. */
  readonly cpu?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export function spawnPinned(name: string, cmd: string, args: readonly string[], options: SpawnOptions = {}): BenchProcess {
  const logDir = path.join(workDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const log = createWriteStream(path.join(logDir, `${name}.log`), { flags: 'a' });
  const [file, argv] = options.cpu !== undefined ? ['taskset', ['-c', options.cpu, cmd, ...args]] : [cmd, [...args]];
  const child = spawn(file, argv, { cwd: options.cwd ?? repoRoot, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    log.write(chunk);
    out = (out + chunk.toString()).slice(-64 * 1024);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let done = false;
  const exit = new Promise<void>((resolve) => child.once('close', () => {
    done = true;
    log.end();
    resolve();
  }));
  const proc: BenchProcess = {
    name,
    pid: child.pid!,
    child,
    output: () => out,
    exited: () => done,
    waitForOutput(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = out.match(pattern);
          if (m) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(m);
          } else if (done) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`${name} exited before printing ${pattern}; output:\n${out.slice(-2000)}`));
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${pattern} from ${name}; output:\n${out.slice(-2000)}`));
        }, timeoutMs);
        waiters.add(check);
        void exit.then(check);
        check();
      });
    },
    async stop() {
      // Children of ours (nginx workers) are looked up first: they must not outlive their master.
      const kids = childPids(proc.pid);
      if (!done) child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (!done) child.kill('SIGKILL');
      }, 5_000);
      await exit;
      clearTimeout(timer);
      for (const pid of kids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      running.delete(proc);
    },
  };
  running.add(proc);
  return proc;
}

/** Stops every process this bench started (on exit, Ctrl-C or failure). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}

/** Direct children of a PID, from /proc (nginx's workers, for example). */
export function childPids(pid: number): number[] {
  const kids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) kids.push(Number(entry));
    } catch {
      /* the process went away while we looked */
    }
  }
  return kids;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs = 20_000, proc?: BenchProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (proc?.exited()) throw new Error(`${proc.name} exited before listening on ${port}:\n${proc.output().slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs}ms${proc ? `; ${proc.name} said:\n${proc.output().slice(-2000)}` : ''}`);
    await sleep(50);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
