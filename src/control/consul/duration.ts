// Durations as Consul's JSON carries them (TTL, Interval, Timeout, DeregisterCriticalServiceAfter,
// the `wait` query parameter): Go's time.Duration text (`10s`, `1m30s`, `500ms`) or a number of
// nanoseconds, which is what Go's decoder accepts for a Duration field.

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Milliseconds of a Go duration string (Go's time.ParseDuration grammar: an optional sign, then one
 * or more `<decimal><unit>` parts; `0` alone is zero). Returns undefined for anything else.
 */
export function parseGoDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const at = PART.lastIndex;
    const m = PART.exec(s);
    if (!m || m.index !== at) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  return sign * total;
}

/**
 * A duration field of a Consul body in milliseconds: a Go duration string or a number of
 * nanoseconds. Throws `describe`'s error (Consul's decode failure) for any other value.
 */
export function durationMs(value: unknown, onBad: (why: string) => Error): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number' && Number.isFinite(value)) return value / 1e6;
  if (typeof value === 'string') {
    const ms = parseGoDuration(value);
    if (ms !== undefined) return ms;
    throw onBad(`time: invalid duration ${JSON.stringify(value)}`);
  }
  throw onBad(`cannot decode ${JSON.stringify(value)} as a duration`);
}
