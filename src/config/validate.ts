// Building blocks for ResourceType validators: each reads one field, records a FieldError with its
// full path when the value is wrong, and returns a typed value (or the default) so that a
// validator collects every error in one pass instead of stopping at the first.

import type { FieldError } from '../lib/errors.ts';

export class Checker {
  readonly errors: FieldError[] = [];

  fail(path: string, message: string): void {
    this.errors.push({ path, message });
  }

  object(value: unknown, path: string): Record<string, unknown> | undefined {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, `must be an object, got ${describe(value)}`);
      return undefined;
    }
    return value as Record<string, unknown>;
  }

  /** Reports fields the schema does not know: a typo must not be silently ignored. */
  noUnknown(obj: Record<string, unknown>, path: string, known: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!known.includes(key)) this.fail(join(path, key), `unknown field (expected one of: ${known.join(', ')})`);
    }
  }

  string(value: unknown, path: string, opts: { required?: boolean; pattern?: RegExp; patternHint?: string; max?: number } = {}): string | undefined {
    if (value === undefined) {
      if (opts.required) this.fail(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') {
      this.fail(path, `must be a string, got ${describe(value)}`);
      return undefined;
    }
    if (opts.required && value === '') {
      this.fail(path, 'must not be empty');
      return undefined;
    }
    if (opts.max !== undefined && value.length > opts.max) {
      this.fail(path, `must be at most ${opts.max} characters`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(value)) {
      this.fail(path, `must be ${opts.patternHint ?? `a string matching ${opts.pattern}`}, got ${JSON.stringify(value)}`);
      return undefined;
    }
    return value;
  }

  oneOf<T extends string>(value: unknown, path: string, allowed: readonly T[], opts: { required?: boolean } = {}): T | undefined {
    const s = this.string(value, path, opts);
    if (s === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(s)) {
      this.fail(path, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(s)}`);
      return undefined;
    }
    return s as T;
  }

  integer(value: unknown, path: string, opts: { required?: boolean; min?: number; max?: number } = {}): number | undefined {
    if (value === undefined) {
      if (opts.required) this.fail(path, 'is required');
      return undefined;
    }
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.fail(path, `must be an integer, got ${describe(value)}`);
      return undefined;
    }
    if (opts.min !== undefined && value < opts.min) {
      this.fail(path, `must be at least ${opts.min}, got ${value}`);
      return undefined;
    }
    if (opts.max !== undefined && value > opts.max) {
      this.fail(path, `must be at most ${opts.max}, got ${value}`);
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.fail(path, `must be true or false, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }

  array(value: unknown, path: string, opts: { required?: boolean; min?: number; max?: number } = {}): unknown[] | undefined {
    if (value === undefined) {
      if (opts.required) this.fail(path, 'is required');
      return undefined;
    }
    if (!Array.isArray(value)) {
      this.fail(path, `must be a list, got ${describe(value)}`);
      return undefined;
    }
    if (opts.min !== undefined && value.length < opts.min) {
      this.fail(path, `must have at least ${opts.min} item${opts.min === 1 ? '' : 's'}`);
      return undefined;
    }
    if (opts.max !== undefined && value.length > opts.max) {
      this.fail(path, `must have at most ${opts.max} items`);
      return undefined;
    }
    return value;
  }

  /** A map of label-like string pairs (labels, selectors). */
  stringMap(value: unknown, path: string): Record<string, string> | undefined {
    if (value === undefined) return undefined;
    const obj = this.object(value, path);
    if (!obj) return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (!LABEL_KEY.test(k)) this.fail(join(path, k), 'is not a valid label key (letters, digits, -, _, ., / ; at most 63 characters per part)');
      const s = this.string(v, join(path, k), { max: 63 });
      if (s !== undefined) out[k] = s;
    }
    return out;
  }
}

/** DNS-1123 label: what Kubernetes allows for names and namespaces. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const DNS_LABEL_HINT = 'a DNS label (lower-case letters, digits and -, starting and ending with a letter or digit, at most 63 characters)';
const LABEL_KEY = /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

/** `spec` + `ports` → `spec.ports`; `spec.ports` + 2 → `spec.ports[2]`. */
export function join(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path ? `${path}.${key}` : key;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  return `${typeof value} ${String(value)}`;
}
