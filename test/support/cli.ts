// The CLI as a user runs it: `bin/weft VERB ...` to completion, with WEFT_CONTROL set, capturing
// stdout, stderr and the exit code (optionally feeding stdin), plus YAML fixture files.

import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { weftBin } from './processes.ts';
import { controlPlaneAt } from './mesh.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The control plane's URL, passed as WEFT_CONTROL (unset when absent). */
  readonly control?: string;
  /** WEFT_TOKEN: default the admin token of the harness's control plane at `control`; null for none. */
  readonly token?: string | null;
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. */
  readonly input?: string;
  readonly timeoutMs?: number;
}

/** Runs `weft ARGS...` and resolves when it exits; a hang past the timeout is killed and reported. */
export function runWeft(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG_LEVEL: 'warn', ...options.env };
  delete env.WEFT_CONTROL;
  delete env.WEFT_TOKEN;
  if (options.control !== undefined) env.WEFT_CONTROL = options.control;
  const token = options.token === undefined ? (options.control !== undefined ? controlPlaneAt(options.control)?.adminToken : undefined) : options.token;
  if (token !== null && token !== undefined) env.WEFT_TOKEN = token;
  return new Promise((resolve, reject) => {
    const child = spawn(weftBin, [...args], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timeoutMs = options.timeoutMs ?? 60_000;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`weft ${args.join(' ')} did not exit within ${timeoutMs}ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a verb that never reads stdin may close it first
    child.stdin.end(options.input ?? '');
  });
}

/** Writes `text` to DIR/NAME and returns the path. */
export async function writeFixture(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

/** A failed run's stderr must not carry a stack trace. */
export function hasStackTrace(text: string): boolean {
  return /\n\s+at .+:\d+:\d+\)?/.test(text) || text.includes('    at ');
}
