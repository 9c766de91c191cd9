// Reading Consul request bodies the way Consul's Go decoder does: field names match without regard
// to case (and `snake_case` aliases match their CamelCase field), unknown fields are ignored, and a
// value of the wrong JSON type fails the whole request with `Request decode failed: ...` (400).

import { decodeFailed } from './errors.ts';

/** Field-name key that CamelCase, camelCase and snake_case spellings share. */
function fold(key: string): string {
  return key.replace(/_/g, '').toLowerCase();
}

/** One JSON object of a Consul body, read field by field with Go's type rules. */
export class Fields {
  readonly #values = new Map<string, unknown>();
  readonly #where: string;

  /** `raw` must be a JSON object (null means an absent one); `where` names it in errors (`Check`, `Checks[1]`). */
  constructor(raw: Record<string, unknown>, where: string) {
    this.#where = where;
    // The first spelling wins, as Go's decoder keeps the last it sees of one field but clients never send two.
    for (const [k, v] of Object.entries(raw)) if (!this.#values.has(fold(k))) this.#values.set(fold(k), v);
  }

  /** Reads a nested object (absent and null are undefined). */
  static object(raw: unknown, where: string): Fields | undefined {
    if (raw === undefined || raw === null) return undefined;
    if (typeof raw !== 'object' || Array.isArray(raw)) throw decodeFailed(`${where}: expected an object, got ${typeName(raw)}`);
    return new Fields(raw as Record<string, unknown>, where);
  }

  has(name: string): boolean {
    const v = this.#values.get(fold(name));
    return v !== undefined && v !== null;
  }

  raw(name: string): unknown {
    const v = this.#values.get(fold(name));
    return v === null ? undefined : v;
  }

  path(name: string): string {
    return this.#where ? `${this.#where}.${name}` : name;
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type string`);
    return v;
  }

  integer(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type int`);
    return v;
  }

  boolean(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type bool`);
    return v;
  }

  stringList(name: string): string[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type []string`);
    return v.map((item, i) => {
      if (typeof item !== 'string') throw decodeFailed(`cannot unmarshal ${typeName(item)} into field ${this.path(name)}[${i}] of type string`);
      return item;
    });
  }

  stringMap(name: string): Record<string, string> | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type map[string]string`);
    const out: Record<string, string> = {};
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) {
      if (typeof item !== 'string') throw decodeFailed(`cannot unmarshal ${typeName(item)} into field ${this.path(name)}.${k} of type string`);
      out[k] = item;
    }
    return out;
  }

  objectList(name: string): Fields[] | undefined {
    const v = this.raw(name);
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) throw decodeFailed(`cannot unmarshal ${typeName(v)} into field ${this.path(name)} of type []object`);
    return v.flatMap((item, i) => {
      const f = Fields.object(item, `${this.path(name)}[${i}]`);
      return f ? [f] : [];
    });
  }
}

function typeName(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  return typeof v;
}

/** Parses a JSON body text as Consul does: invalid JSON is a decode failure (400). */
export function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw decodeFailed((err as Error).message);
  }
}
