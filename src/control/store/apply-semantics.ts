// What every Store backend (embedded SQLite, etcd) must agree on, kept out of any one backend:
// optimistic-concurrency checks, "unchanged" detection, the metadata the store owns, and the
// fan-out of StoreEvents to watchers after a write is durable.

import type { InstanceState } from '../../config/catalog-types.ts';
import type { Resource, ObjectMeta } from '../../config/resource.ts';
import type { ApplyOptions, StoreEvent } from './store.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';

export const STORE_CONFLICT = 'WEFT_ERR_STORE_CONFLICT';
export const STORE_NOT_FOUND = 'WEFT_ERR_STORE_NOT_FOUND';
export const STORE_CLOSED = 'WEFT_ERR_STORE_CLOSED';

/**
 * The version a write is conditional on: `options.expectedVersion`, else the object's own
 * `metadata.resourceVersion`. Empty strings count as absent, so a client that echoes back a
 * blank field is not refused.
 */
export function expectedVersionOf(options: ApplyOptions | undefined, resource?: Resource): string | undefined {
  const fromOptions = options?.expectedVersion;
  if (fromOptions !== undefined && fromOptions !== '') return fromOptions;
  const fromObject = resource?.metadata?.resourceVersion;
  if (fromObject !== undefined && fromObject !== '') return fromObject;
  return undefined;
}

/**
 * Throws WEFT_ERR_STORE_CONFLICT (409) when a write was made conditional on a version and the
 * stored object is at another one, or is missing (a version for a missing object means the client
 * read something that has since been deleted).
 */
export function checkVersion(
  kind: string,
  namespace: string,
  name: string,
  expected: string | undefined,
  current: string | undefined,
): void {
  if (expected === undefined || expected === current) return;
  const stored = current === undefined ? 'the object does not exist' : `stored version is ${current}`;
  throw new WeftError(
    STORE_CONFLICT,
    `${kind} ${namespace}/${name}: expected resourceVersion ${expected} but ${stored}`,
    409,
  );
}

export function notFound(kind: string, namespace: string, name: string): WeftError {
  return new WeftError(STORE_NOT_FOUND, `${kind} ${namespace}/${name} not found`, 404);
}

/**
 * Structural equality of JSON-shaped values. Object keys whose value is undefined count as absent,
 * because that is how they come back after a round trip through the stored JSON.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') {
    // Inside arrays, JSON turns undefined into null.
    return (a ?? null) === (b ?? null);
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!jsonEqual(a[i], b[i])) return false;
    return true;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const aKeys = Object.keys(ao).filter((k) => ao[k] !== undefined);
  const bKeys = Object.keys(bo).filter((k) => bo[k] !== undefined);
  if (aKeys.length !== bKeys.length) return false;
  for (const k of aKeys) {
    if (!Object.hasOwn(bo, k) || !jsonEqual(ao[k], bo[k])) return false;
  }
  return true;
}

/** An absent label or annotation map means the same as an empty one. */
function mapEqual(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  return jsonEqual(a ?? {}, b ?? {});
}

/** True when a write of `incoming` would change nothing the user owns (spec, labels, annotations). */
export function isUnchanged(stored: Resource, incoming: Resource): boolean {
  return (
    jsonEqual(stored.spec, incoming.spec) &&
    mapEqual(stored.metadata.labels, incoming.metadata.labels) &&
    mapEqual(stored.metadata.annotations, incoming.metadata.annotations)
  );
}

export type ApplyPlan =
  | { readonly action: 'unchanged'; readonly resource: Resource }
  | { readonly action: 'write'; readonly resource: Resource; readonly created: boolean };

export interface PlanApplyInput {
  /** The stored object, or undefined when there is none. */
  readonly existing: Resource | undefined;
  /** The stored object's version; may be known even when its body is not (a corrupt row). */
  readonly existingVersion: string | undefined;
  readonly incoming: Resource;
  readonly options?: ApplyOptions;
  /** Called only when a write will happen, so a rejected or no-op apply burns no revision. */
  readonly nextRevision: () => string;
  /** ISO timestamp for creationTimestamp. */
  readonly now: () => string;
}

/**
 * Decides what an apply does, given what is stored. Runs inside the backend's transaction so the
 * check and the write see the same state. The version check comes first: a conditional apply of
 * an unchanged object at a stale version is still a conflict.
 */
export function planApply(input: PlanApplyInput): ApplyPlan {
  const { existing, existingVersion, incoming } = input;
  const { kind } = incoming;
  const { namespace, name } = incoming.metadata;
  checkVersion(kind, namespace, name, expectedVersionOf(input.options, incoming), existingVersion);

  if (existing !== undefined && isUnchanged(existing, incoming)) {
    return { action: 'unchanged', resource: existing };
  }

  const revision = input.nextRevision();
  const specChanged = existing === undefined || !jsonEqual(existing.spec, incoming.spec);
  const previousGeneration = existing?.metadata.generation;
  const generation =
    typeof previousGeneration === 'number' && previousGeneration >= 1
      ? previousGeneration + (specChanged ? 1 : 0)
      : 1;
  const metadata: ObjectMeta = {
    name,
    namespace,
    ...(incoming.metadata.labels !== undefined ? { labels: incoming.metadata.labels } : {}),
    ...(incoming.metadata.annotations !== undefined ? { annotations: incoming.metadata.annotations } : {}),
    resourceVersion: revision,
    creationTimestamp: existing?.metadata.creationTimestamp ?? input.now(),
    generation,
  };
  const built: Resource = { apiVersion: incoming.apiVersion, kind, metadata, spec: incoming.spec };
  // Return exactly what a later read returns (undefined fields dropped, no aliasing of the
  // caller's objects).
  const resource = JSON.parse(JSON.stringify(built)) as Resource;
  return { action: 'write', resource, created: existing === undefined && existingVersion === undefined };
}

/**
 * Checks a delete against what is stored: NOT_FOUND when absent, CONFLICT on a version mismatch.
 */
export function checkDelete(
  kind: string,
  namespace: string,
  name: string,
  existingVersion: string | undefined,
  options: ApplyOptions | undefined,
): void {
  if (existingVersion === undefined) throw notFound(kind, namespace, name);
  checkVersion(kind, namespace, name, expectedVersionOf(options), existingVersion);
}

/** Parses a stored row body; undefined when it is not JSON or not an object (a corrupt row). */
export function parseStoredObject(json: string): Record<string, unknown> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Parses a stored resource body; undefined when it is not JSON or not resource-shaped. */
export function parseResource(json: string): Resource | undefined {
  const value = parseStoredObject(json);
  if (!value) return undefined;
  const r = value as Partial<Resource>;
  if (typeof r.kind !== 'string' || r.metadata === null || typeof r.metadata !== 'object') return undefined;
  if (typeof r.metadata.name !== 'string' || typeof r.metadata.namespace !== 'string') return undefined;
  return value as unknown as Resource;
}

export interface StoreEvents {
  watch(listener: (event: StoreEvent) => void): () => void;
  /** Call after the write is durable (after commit). */
  emit(event: StoreEvent): void;
  clear(): void;
}

/** Watcher fan-out where a throwing listener is logged and skipped, never felt by the writer. */
export function createStoreEvents(log: Logger): StoreEvents {
  const listeners = new Set<(event: StoreEvent) => void>();
  return {
    watch(listener) {
      // Wrapped so the same function can subscribe twice and unsubscribe each independently.
      const entry = (event: StoreEvent): void => listener(event);
      listeners.add(entry);
      return () => {
        listeners.delete(entry);
      };
    },
    emit(event) {
      // Copy: a listener may unsubscribe (or subscribe) while we iterate.
      for (const listener of [...listeners]) {
        try {
          listener(event);
        } catch (err) {
          log.warn('store watcher threw', { event: event.type, error: errorMessage(err) });
        }
      }
    },
    clear() {
      listeners.clear();
    },
  };
}

/** Parses a stored instance body; undefined when it is not JSON or lacks its identity. */
export function parseInstance(json: string): InstanceState | undefined {
  const value = parseStoredObject(json);
  if (!value) return undefined;
  const v = value as Partial<InstanceState>;
  if (typeof v.namespace !== 'string' || typeof v.service !== 'string' || typeof v.id !== 'string') return undefined;
  return value as unknown as InstanceState;
}
