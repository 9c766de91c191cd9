// The shape every CLI verb has (one file a verb under commands/), and the shared option parsing:
// `--help` everywhere, `--control`/WEFT_CONTROL, `-o table|json|yaml`, and clear usage errors.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { WeftError } from '../lib/errors.ts';
import { parseDuration } from '../config/kinds/route-common.ts';
import { didYouMean } from './suggest.ts';

export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig['options']>;

export const controlOption: Options = {
  control: { type: 'string', short: 'c' },
  token: { type: 'string' },
};
export const outputOption: Options = { output: { type: 'string', short: 'o' } };

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
  readonly rest: string[];
}

/** Parses flags; returns undefined after printing help. Everything after `--` is kept in `rest`. */
export function parseCommand(command: Command, argv: string[], options: Options): Parsed | undefined {
  const dash = argv.indexOf('--');
  const own = dash === -1 ? argv : argv.slice(0, dash);
  const rest = dash === -1 ? [] : argv.slice(dash + 1);
  let parsed;
  try {
    parsed = parseArgs({ args: own, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `${usageProblem(err as NodeJS.ErrnoException, options)}\n\n${command.usage}`, 2);
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.summary}\n\n${command.usage}\n`);
    return undefined;
  }
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals, rest };
}

/**
 * One plain line for a parseArgs error (Node's own text suggests quoting with an unclosed quote):
 * the option at fault and, for an unknown one, the closest known option.
 */
function usageProblem(err: NodeJS.ErrnoException, options: Options): string {
  const flag = /'(?:-\w, )?(-{1,2}[^' ,]+)/.exec(err.message)?.[1];
  switch (err.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const known = ['--help', ...Object.keys(options).map((name) => `--${name}`)];
      return `unknown option ${flag ?? err.message}${flag ? didYouMean(flag, known, (s) => s) : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(err.message) ? `option ${flag} takes no value` : `option ${flag} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${/'([^']*)'/.exec(err.message)?.[1] ?? ''}`.trimEnd();
    default:
      return err.message;
  }
}

export function str(parsed: Parsed, name: string): string | undefined {
  const v = parsed.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function int(parsed: Parsed, name: string): number | undefined {
  const v = str(parsed, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--${name} must be a whole number, got ${JSON.stringify(v)}`, 2);
  return Number(v);
}

/** `k=v,k2=v2` → record. */
export function labelsOption(parsed: Parsed, name: string): Record<string, string> {
  const v = str(parsed, name);
  const out: Record<string, string> = {};
  if (!v) return out;
  for (const pair of v.split(',')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new WeftError('WEFT_ERR_CLI_USAGE', `--${name} takes k=v pairs separated by commas, got ${JSON.stringify(pair)}`, 2);
    out[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return out;
}

export function controlUrl(parsed: Parsed): string {
  return str(parsed, 'control') ?? process.env.WEFT_CONTROL ?? 'http://127.0.0.1:7700';
}

export function token(parsed: Parsed): string | undefined {
  return str(parsed, 'token') ?? process.env.WEFT_TOKEN ?? undefined;
}

/** A duration flag in whole seconds: plain seconds (`3600`) or `90s`, `30m`, `24h`, `1h30m`; WEFT_ERR_CLI_USAGE (exit 2) otherwise. */
export function ttlSeconds(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\d{1,9}$/.test(v) ? Number(v) * 1000 : parseDuration(v);
  if (ms === undefined || ms % 1000 !== 0 || ms <= 0) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `${flag} must be seconds (3600) or a duration in whole seconds (90s, 30m, 24h, 1h30m), got ${JSON.stringify(v)}`, 2);
  }
  return ms / 1000;
}
