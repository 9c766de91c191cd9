// The mesh's vocabulary, part 1: the Kubernetes-shaped envelope every stored resource has, and the
// ResourceType each kind registers (one validator, used by the API on write and by proxies on NACK).

import type { FieldError } from '../lib/errors.ts';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Set by the store: changes on every write, compared for optimistic concurrency. */
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
  readonly generation?: number;
}

export interface Resource<Spec = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: ObjectMeta;
  readonly spec: Spec;
}

export type ValidationResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly errors: readonly FieldError[] };

export interface ResourceType<Spec = unknown> {
  readonly kind: string;
  readonly apiVersion: string;
  /** Other apiVersions a document of this kind may carry with the same meaning (Service: Kubernetes `v1`). */
  readonly otherApiVersions?: readonly string[];
  /** Lower-case plural used in API paths and by `weft get` (e.g. `httproutes`). */
  readonly plural: string;
  /** Other names `weft get` accepts (singular, short names). */
  readonly aliases: readonly string[];
  readonly namespaced: boolean;
  /** Checks `spec` (already known to be an object) and returns it typed, with defaults filled. */
  validateSpec(spec: unknown, path: string): ValidationResult<Spec>;
}

/** Identity of a stored object: `kind/namespace/name`. */
export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

export const DEFAULT_NAMESPACE = 'default';
