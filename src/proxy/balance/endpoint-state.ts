// The balancer's memory of one endpoint (requests in flight, failures, ejection), keyed by
// endpoint id so it outlives the snapshots and pickers that come and go around it.

import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import type { Pick, PickOutcome } from './picker.ts';
import type { Candidate } from './candidate.ts';
import type { PeakEwma } from './peak-ewma/ewma.ts';

export class EndpointState implements Candidate {
  readonly id: string;
  /** The latest snapshot of this endpoint; replaced by each balancer update. */
  endpoint: EndpointSnapshot;
  active = 0;
  /** Outcomes that were not ok, since the last one that was. */
  consecutiveFailures = 0;
  /** When an ejection ends (clock ms); meaningful only while the balancer lists it as ejected. */
  ejectedUntil = 0;
  /** Whether the algorithm in force may pick it (healthy, and weighted if the algorithm is). */
  eligible = false;
  /** Its latency estimate (peak-ewma's score), set by the balancer when it creates the state. */
  ewma: PeakEwma | undefined = undefined;
  readonly #onConnectFailure: (state: EndpointState) => void;

  constructor(endpoint: EndpointSnapshot, onConnectFailure: (state: EndpointState) => void) {
    this.id = endpoint.id;
    this.endpoint = endpoint;
    this.#onConnectFailure = onConnectFailure;
  }

  take(): Pick {
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
        this.#settle(outcome);
      },
    };
  }

  #settle(outcome: PickOutcome): void {
    this.active--;
    // The client went away or its own deadline passed: nothing is learned about the endpoint.
    if (outcome.failure === 'cancelled') return;
    this.ewma?.observe(outcome);
    const connectFailure = outcome.connectFailure === true;
    if (outcome.ok && !connectFailure) this.consecutiveFailures = 0;
    else this.consecutiveFailures++;
    if (connectFailure) this.#onConnectFailure(this);
  }
}
