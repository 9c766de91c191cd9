// Output for CLI verbs: aligned tables by default, or the raw objects as JSON or YAML with `-o`.

import YAML from 'yaml';
import { WeftError } from '../lib/errors.ts';

export type OutputFormat = 'table' | 'json' | 'yaml' | 'wide';

export function outputFormat(value: string | undefined): OutputFormat {
  const v = value ?? 'table';
  if (v === 'table' || v === 'json' || v === 'yaml' || v === 'wide') return v;
  throw new WeftError('WEFT_ERR_CLI_USAGE', `-o must be table, wide, json or yaml, got ${JSON.stringify(v)}`, 2);
}

export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('   ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** Prints objects in the chosen format; `table` uses the given columns. */
export function print(format: OutputFormat, data: unknown, table: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(data, null, 2) + '\n');
  else if (format === 'yaml') process.stdout.write(YAML.stringify(data));
  else process.stdout.write(table());
}

/** Time left until `iso` ("11h left"), or `expired`. */
export function timeLeft(iso: string | undefined, now = Date.now()): string {
  if (iso === undefined) return '-';
  const t = Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  return t <= now ? 'expired' : `${age(now, t)} left`;
}

export function age(iso: string | number | undefined, now = Date.now()): string {
  if (iso === undefined) return '-';
  const t = typeof iso === 'number' ? iso : Date.parse(iso);
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}
