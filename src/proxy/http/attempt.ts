// One try of a request at one endpoint, whatever the transport: it reports its outcome to the
// balancer (and the fate record) once, holds the circuit breaker's pending slot while it waits for a
// new connection, and fails at most once; forward.ts decides what follows. The transports extend or
// drive it (forward-h1.ts, forward-h2.ts, forward-h1-node.ts).

import type { AttemptFailure, Pick } from '../balance/picker.ts';
import { attemptFailureOf, type FailureKind } from './attempt-rules.ts';
import type { Forwarding } from './forward.ts';

export type EndpointPick = Extract<Pick, { kind: 'endpoint' }>;

/** One try at one endpoint: reports its outcome to the balancer once, and fails at most once. */
export class Attempt {
  readonly fwd: Forwarding;
  readonly pick: EndpointPick;
  readonly started: number;
  reported = false;
  /** Went once more to the same endpoint after meeting a stale pooled connection (at most once). */
  staleRetried = false;
  /** Stops the transport's work, once the transport has some. */
  cancelTransport: (() => void) | undefined = undefined;
  /** Holds one of the breaker's pending slots: waiting for a new connection. */
  pending = false;
  /** When the response head was forwarded (performance.now()); -1 before. */
  headAt = -1;

  constructor(fwd: Forwarding, pick: EndpointPick, started: number) {
    this.fwd = fwd;
    this.pick = pick;
    this.started = started;
  }

  /**
   * Reports the outcome to the balancer (once): `status` is the endpoint's answer (0: none), `failure`
   * why there is no complete response. Returns the time it read.
   */
  report(status: number, failure?: AttemptFailure): number {
    if (this.pending) this.endPending();
    const now = performance.now();
    if (this.reported) return now;
    this.reported = true;
    const fate = this.fwd.fate;
    if (fate !== undefined) {
      const ep = this.pick.endpoint;
      fate.attempt(ep, ep.identity, status, failure, this.started, now);
    }
    const ok = failure === undefined && status > 0 && status < 500;
    this.pick.done({ ok, connectFailure: failure === 'connect', latencyMs: now - this.started, headMs: this.headAt >= 0 ? this.headAt - this.started : undefined, status: status > 0 ? status : undefined, failure });
    return now;
  }

  /**
   * The attempt needs a new connection: the breaker's maxConnections (`openConnections`, -1: not
   * counted) and maxPendingRequests decide. False: refused, and the request was answered 503.
   */
  startPending(openConnections: number): boolean {
    const f = this.fwd;
    const breaker = f.breaker;
    if (breaker === undefined || this.pending) return true;
    const limit = breaker.tryStartPending(openConnections);
    if (limit === undefined) return (this.pending = true);
    // Not the endpoint's failure: the balancer must not count it against it.
    this.report(0, 'cancelled');
    f.circuitOpen(limit);
    return false;
  }

  /** The connection came up (or the attempt ended): the pending slot is free. */
  endPending(): void {
    if (!this.pending) return;
    this.pending = false;
    this.fwd.breaker?.endPending();
  }

  /** `status`: what the endpoint answered when the failure is an answer (a retried status code). */
  onFailure(kind: FailureKind, detail: string, status = 0): void {
    if (this.reported) return; // an attempt fails once, however many events report it
    this.report(status, attemptFailureOf(kind));
    this.fwd.fail(kind, this.pick.endpoint, detail);
  }

  /** A cancelled attempt (client gone, request timeout) still reports back, or least-request would count it as active forever. */
  cancel(): void {
    this.report(0, 'cancelled');
    this.cancelTransport?.();
  }
}
