// One demo process (the control plane or a `weft run` unit) in its own process group: its output
// is prefixed with a colored tag, weft's INFO/DEBUG log lines are hidden, and stopping it ends the
// whole group — politely first, SIGKILL once the deadline passes.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ChildOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  /** Write one finished output line (already tagged). */
  readonly print: (line: string) => void;
  readonly tag: string;
  /** Show weft's INFO/DEBUG log lines too. */
  readonly verbose: boolean;
  readonly colors: boolean;
  /** Called with every raw line, before filtering. */
  readonly onLine?: (line: string) => void;
}

const WEFT_LOG_LINE = /^\d{4}-\d\d-\d\dT[\d:.]+Z (DEBUG|INFO|WARN|ERROR)\s/;
// `weft proxy` announces its ports as a JSON event on stdout; the demo prints those itself.
const EVENT_LINE = /^\{"event":/;

export function style(colors: boolean, code: string, text: string): string {
  return colors ? `\x1b[${code}m${text}\x1b[0m` : text;
}

export class DemoChild {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  /** Set before the demo stops it, so the exit is not reported as a crash. */
  stopping = false;
  private readonly options: ChildOptions;

  constructor(options: ChildOptions) {
    this.options = options;
    this.name = options.name;
    this.proc = spawn(options.command, [...options.args], {
      cwd: options.cwd,
      env: options.env,
      // Its own process group, so the app that `weft run` starts can be reached with it.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => {
      this.proc.once('error', (err) => {
        options.print(`${options.tag} ${style(options.colors, '31', `could not start: ${err.message}`)}`);
        this.exit = { code: 127, signal: null };
        resolve(this.exit);
      });
      this.proc.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
    this.pipe(this.proc.stdout);
    this.pipe(this.proc.stderr);
  }

  private pipe(stream: Readable | null): void {
    if (!stream) return;
    const { tag, colors, verbose, print, onLine } = this.options;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      onLine?.(line);
      if (EVENT_LINE.test(line)) return;
      const log = WEFT_LOG_LINE.exec(line);
      if (log && !verbose && (log[1] === 'DEBUG' || log[1] === 'INFO')) return;
      const text = log?.[1] === 'ERROR' ? style(colors, '31', line) : log?.[1] === 'WARN' ? style(colors, '33', line) : line;
      print(`${tag} ${text}`);
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  /** Whether any process of the group is still there. */
  groupAlive(): boolean {
    if (this.pid === undefined) return false;
    try {
      process.kill(-this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  signalGroup(signal: NodeJS.Signals): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  signalLeader(signal: NodeJS.Signals): void {
    if (this.exit || this.pid === undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /**
   * Stops the unit. `leader` lets `weft run` do its own ordered shutdown (deregister, drain, then
   * signal the app); `group` signals every process at once. Either way, whatever is left of the
   * group when the leader is gone gets SIGTERM, and SIGKILL at `graceMs`.
   * Resolves to true when it had to force anything.
   */
  async stop(how: 'leader' | 'group', graceMs: number): Promise<boolean> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    if (how === 'group') this.signalGroup('SIGTERM');
    else this.signalLeader('SIGTERM');
    let leaderGoneAt: number | undefined;
    let askedGroup = how === 'group';
    while (Date.now() < deadline) {
      if (this.exit) {
        if (!this.groupAlive()) return false;
        leaderGoneAt ??= Date.now();
        // The leader is gone but something of its group lingers: ask the rest too, once.
        if (!askedGroup && Date.now() - leaderGoneAt > 1_000) {
          this.signalGroup('SIGTERM');
          askedGroup = true;
        }
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    this.signalGroup('SIGKILL');
    const killDeadline = Date.now() + 2_000;
    while ((!this.exit || this.groupAlive()) && Date.now() < killDeadline) await new Promise((r) => setTimeout(r, 50));
    return true;
  }
}
