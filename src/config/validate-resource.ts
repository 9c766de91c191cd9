// The one validator for a whole resource document, used by the API before every write (proxies
// check snapshots with validate-snapshot.ts): the envelope (apiVersion, kind, metadata), then the spec.

import { DEFAULT_NAMESPACE, type ObjectMeta, type Resource, type ValidationResult } from './resource.ts';
import { Checker, DNS_LABEL, DNS_LABEL_HINT, join } from './validate.ts';
import { findResourceType, resourceTypeForKind, resourceTypes } from './kinds/index.ts';

/** Fields the store sets; accepted (a `weft get -o yaml` round-trips) but dropped. */
const STORE_OWNED_METADATA = ['creationTimestamp', 'generation', 'uid', 'managedFields'];
const METADATA_FIELDS = ['name', 'namespace', 'labels', 'annotations', 'resourceVersion', ...STORE_OWNED_METADATA];

/** Same rule as label keys: optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
const ANNOTATION_KEY = /^([a-z0-9.-]{1,253}\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes' limit on all annotations of one object together. */
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

function annotations(c: Checker, value: unknown, path: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  const obj = c.object(value, path);
  if (!obj) return undefined;
  const out: Record<string, string> = {};
  let size = 0;
  for (const [k, v] of Object.entries(obj)) {
    if (!ANNOTATION_KEY.test(k)) c.fail(join(path, k), 'is not a valid annotation key (letters, digits, -, _, ., / ; at most 63 characters per part)');
    // Annotation values are free text (JSON blobs are common), unlike label values.
    const s = c.string(v, join(path, k));
    if (s === undefined) continue;
    size += Buffer.byteLength(k) + Buffer.byteLength(s);
    out[k] = s;
  }
  if (size > MAX_ANNOTATIONS_BYTES) c.fail(path, `must total at most ${MAX_ANNOTATIONS_BYTES} bytes, got ${size}`);
  return out;
}

function resourceVersion(c: Checker, value: unknown, path: string): string | undefined {
  // YAML turns an unquoted `resourceVersion: 42` into a number; it still means version "42".
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  return c.string(value, path, { required: value !== undefined });
}

function unknownKindMessage(kind: string): string {
  const near = findResourceType(kind);
  const hint = near ? ` (did you mean ${near.kind}?)` : '';
  return `unknown kind ${JSON.stringify(kind)}${hint}; known kinds: ${resourceTypes.map((t) => t.kind).join(', ')}`;
}

/**
 * Checks a parsed document and returns it normalized: spec defaults filled, store-owned metadata
 * and `status` dropped, namespace defaulted. Every problem is reported, each with its field path.
 */
export function validateResource(raw: unknown): ValidationResult<Resource> {
  const c = new Checker();
  const doc = c.object(raw, '');
  if (!doc) return { ok: false, errors: c.errors };
  c.noUnknown(doc, '', ['apiVersion', 'kind', 'metadata', 'spec', 'status']);

  const apiVersion = c.string(doc.apiVersion, 'apiVersion', { required: true });
  const kind = c.string(doc.kind, 'kind', { required: true });
  const type = kind === undefined ? undefined : resourceTypeForKind(kind);
  if (kind !== undefined && !type) c.fail('kind', unknownKindMessage(kind));
  if (type && apiVersion !== undefined && apiVersion !== type.apiVersion && !type.otherApiVersions?.includes(apiVersion)) {
    const allowed = [type.apiVersion, ...(type.otherApiVersions ?? [])].map((v) => JSON.stringify(v)).join(' or ');
    c.fail('apiVersion', `must be ${allowed} for kind ${type.kind}, got ${JSON.stringify(apiVersion)}`);
  }

  let metadata: ObjectMeta | undefined;
  if (doc.metadata === undefined) c.fail('metadata', 'is required');
  else {
    const meta = c.object(doc.metadata, 'metadata');
    if (meta) {
      c.noUnknown(meta, 'metadata', METADATA_FIELDS);
      const name = c.string(meta.name, 'metadata.name', { required: true, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT });
      const namespace =
        c.string(meta.namespace, 'metadata.namespace', { required: meta.namespace !== undefined, pattern: DNS_LABEL, patternHint: DNS_LABEL_HINT }) ??
        DEFAULT_NAMESPACE;
      const labels = c.stringMap(meta.labels, 'metadata.labels');
      const notes = annotations(c, meta.annotations, 'metadata.annotations');
      const version = resourceVersion(c, meta.resourceVersion, 'metadata.resourceVersion');
      if (name !== undefined) {
        metadata = {
          name,
          namespace,
          ...(labels !== undefined && { labels }),
          ...(notes !== undefined && { annotations: notes }),
          ...(version !== undefined && { resourceVersion: version }),
        };
      }
    }
  }

  let spec: unknown;
  if (type) {
    // A kind whose fields are all optional may omit spec entirely; its defaults still apply.
    const result = type.validateSpec(doc.spec === undefined ? {} : doc.spec, 'spec');
    if (result.ok) spec = result.value;
    else for (const e of result.errors) c.fail(e.path, e.message);
  }

  if (c.errors.length || !type || !metadata) return { ok: false, errors: c.errors };
  return { ok: true, value: { apiVersion: type.apiVersion, kind: type.kind, metadata, spec } };
}
