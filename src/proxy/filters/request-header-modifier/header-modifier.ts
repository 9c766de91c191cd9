// Gateway API HTTPHeaderFilter, for RequestHeaderModifier (the request this hop sends upstream) and
// ResponseHeaderModifier (the response it sends back): set, then add, then remove.

import type { IncomingHttpHeaders } from 'node:http';
import type { HeaderModifier } from '../../../config/kinds/route-common.ts';

/** Extra upstream request fields as ForwardTarget.addHeaders takes them: a value replaces the incoming field, undefined drops it. */
export type HeaderEdits = Record<string, string | string[] | undefined>;

/** A compiled HTTPHeaderFilter: names lower-cased once. */
export interface CompiledHeaderModifier {
  /** Records the edits of the request headers in `edits` (which may hold earlier filters' edits). */
  request(incoming: IncomingHttpHeaders, edits: HeaderEdits): void;
  /** The response fields ([name, value, …], lower-case names) after the edits; a new list. */
  response(fields: readonly string[]): string[];
}

/**
 * Compiles a modifier. `set` overwrites every field of the name, `add` appends one more value (a
 * second field line, which RFC 9110 §5.3 makes equal to a comma-joined value), `remove` drops
 * every field of the name. Names are case-insensitive (Gateway API: HTTPHeaderName).
 */
export function compileHeaderModifier(mod: HeaderModifier): CompiledHeaderModifier {
  const set = mod.set.map((h) => [h.name.toLowerCase(), h.value] as const);
  const add = mod.add.map((h) => [h.name.toLowerCase(), h.value] as const);
  const remove = mod.remove.map((n) => n.toLowerCase());
  return {
    request(incoming, edits) {
      for (const [name, value] of set) edits[name] = value;
      for (const [name, value] of add) {
        const current = Object.hasOwn(edits, name) ? edits[name] : incoming[name];
        edits[name] = current === undefined ? value : [...(Array.isArray(current) ? current : [current]), value];
      }
      for (const name of remove) edits[name] = undefined;
    },
    response(fields) {
      const out: string[] = [];
      const dropped = new Set([...set.map(([n]) => n), ...remove]);
      for (let i = 0; i < fields.length; i += 2) if (!dropped.has(fields[i])) out.push(fields[i], fields[i + 1]);
      for (const [name, value] of set) if (!remove.includes(name)) out.push(name, value);
      for (const [name, value] of add) if (!remove.includes(name)) out.push(name, value);
      return out;
    },
  };
}
