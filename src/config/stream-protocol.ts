// The control plane ⇄ proxy stream (ARCHITECTURE.md §4): one long-lived HTTP/1.1 POST to
// /v1/stream whose request and response bodies are both newline-delimited JSON messages.

import type { FieldError } from '../lib/errors.ts';
import type { NodeInfo, ProxySnapshot, ServiceSnapshot } from './snapshot-types.ts';
import type { ServiceRef } from './service-order.ts';
import type { ReportedCheck } from './health-check.ts';
import type { StatsReport } from './stats-report.ts';

export const STREAM_PATH = '/v1/stream';
/** The control plane pings this often; a proxy that hears nothing for 3 intervals reconnects. */
export const STREAM_PING_MS = 10_000;

/**
 * Proxy → control plane. `hello` first, then one ack or nack per snapshot or delta received, and a
 * `health` report of the checks the sidecar runs on its own app (health-check.ts): every check's
 * state, index for index with its registration's `checks`, sent on each transition, after each
 * (re)connect and after each registration; never per probe. `stats`: the golden signals of the
 * last interval (stats-report.ts), every few seconds while there is traffic.
 */
export type ProxyMessage =
  /**
   * `resume`: the snapshot this proxy holds (accepted on an earlier stream, maybe from another
   * control-plane replica). When the control plane's current snapshot for it has the same hash, it
   * answers with an empty delta from that version instead of the whole snapshot.
   */
  | { readonly type: 'hello'; readonly node: NodeInfo; readonly resume?: { readonly version: string; readonly hash: string } }
  | { readonly type: 'health'; readonly checks: readonly ReportedCheck[] }
  | { readonly type: 'ack'; readonly version: string }
  | ({ readonly type: 'stats' } & StatsReport)
  | {
      readonly type: 'nack';
      readonly version: string;
      readonly errors: readonly FieldError[];
      /** The proxy could not apply a delta to what it holds: send the full snapshot now. */
      readonly resync?: boolean;
    };

/**
 * The change from snapshot `base` to snapshot `version`: services added or changed (whole), services
 * gone, and the new policy and hash. Only valid on top of exactly `base`.
 */
export interface SnapshotDelta {
  readonly version: string;
  readonly base: string;
  readonly hash: string;
  readonly outboundTrafficPolicy: ProxySnapshot['outboundTrafficPolicy'];
  readonly mtlsMode?: ProxySnapshot['mtlsMode'];
  /** The whole of it, every delta (it is small): absent, none. */
  readonly observability?: ProxySnapshot['observability'];
  readonly upsert: readonly ServiceSnapshot[];
  readonly remove: readonly ServiceRef[];
}

/** Control plane → proxy. */
export type ControlMessage =
  | { readonly type: 'snapshot'; readonly snapshot: ProxySnapshot }
  | ({ readonly type: 'delta' } & SnapshotDelta)
  | { readonly type: 'ping' }
  | ({ readonly type: 'trust' } & TrustMessage)
  | { readonly type: 'error'; readonly code: string; readonly message: string };

/**
 * What a proxy must trust and hold, sent once a stream opens and again whenever the CA's roots
 * change (a root rotation): the roots (PEM, concatenated) and the CA certificate (PEM) that issues
 * leaves now. A proxy whose bundle differs, or whose leaf is not from `issuer`, renews at once.
 */
export interface TrustMessage {
  readonly trustBundle: string;
  readonly issuer: string;
}

/** Splits a byte stream into lines without assuming chunk boundaries match message boundaries. */
export function createLineSplitter(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  let pending = '';
  return (chunk) => {
    pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) onLine(line);
    }
    if (pending.length > 64 * 1024 * 1024) throw new Error('stream line longer than 64 MiB');
  };
}
