// The balancer's memory of one endpoint (requests in flight, outlier counters and ejection, slow-start
// ramp), keyed by endpoint id so it outlives the snapshots and pickers that come and go around it.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { Pick, PickOutcome } from './picker.ts';
import type { Candidate } from './candidate.ts';
import type { PeakEwma } from './peak-ewma/ewma.ts';
import { recordOutcome, type EjectionReason } from './outlier/outcome.ts';
import type { OutlierDetector, OutlierEndpoint } from './outlier/detector.ts';
import type { RampingEndpoint } from './slow-start/slow-start.ts';

export class EndpointState implements Candidate, OutlierEndpoint, RampingEndpoint {
  readonly id: string;
  /** The latest snapshot of this endpoint; replaced by each balancer update. */
  endpoint: EndpointSnapshot;
  active = 0;
  /** Outcomes that were not ok, since the last one that was (any kind; for the admin dump). */
  consecutiveFailures = 0;
  consecutive5xx = 0;
  consecutiveGatewayErrors = 0;
  consecutiveConnectFailures = 0;
  intervalRequests = 0;
  intervalSuccesses = 0;
  ejected = false;
  /** When an ejection ends (clock ms); meaningful only while `ejected`. */
  ejectedUntil = 0;
  ejectionCount = 0;
  lastEjectionReason: EjectionReason | undefined = undefined;
  /** Whether the algorithm in force may pick it (healthy, and weighted if the algorithm is). */
  eligible = false;
  /** Its latency estimate (peak-ewma's score), set by the balancer when it creates the state. */
  ewma: PeakEwma | undefined = undefined;
  rampStart = 0;
  slowStartFactor = 1;
  readonly #detector: OutlierDetector<EndpointState>;

  constructor(endpoint: EndpointSnapshot, detector: OutlierDetector<EndpointState>) {
    this.id = endpoint.id;
    this.endpoint = endpoint;
    this.#detector = detector;
  }

  /** Slow start's share of the full weight, in (0, 1]; changed only on the slow path (see candidate.ts). */
  weightFactor(): number {
    return this.slowStartFactor;
  }

  take(pickedAt = -1): Pick {
    this.active++;
    // One flag and one closure per pick is the whole cost of `done`; the flag makes a second call
    // (say from both a timeout and a late response) harmless instead of skewing the count.
    let open = true;
    return {
      kind: 'endpoint',
      endpoint: this.endpoint,
      done: (outcome: PickOutcome): void => {
        if (!open) return;
        open = false;
        this.#settle(outcome, pickedAt);
      },
    };
  }

  #settle(outcome: PickOutcome, pickedAt: number): void {
    this.active--;
    // The client went away or its own deadline passed: nothing is learned about the endpoint.
    if (outcome.failure === 'cancelled') return;
    // The picker's clock reading plus the attempt's latency is when the outcome came: one clock
    // read per request for peak-ewma, not two.
    this.ewma?.observe(outcome, pickedAt >= 0 ? pickedAt + outcome.latencyMs : undefined);
    if (outcome.ok && outcome.connectFailure !== true) this.consecutiveFailures = 0;
    else this.consecutiveFailures++;
    const tripped = recordOutcome(this, outcome, this.#detector.rules);
    if (tripped !== undefined) this.#detector.trip(this, tripped);
  }
}
