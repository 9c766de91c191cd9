// The adaptive concurrency filter of the inbound side (after authn, authz and rate limits, right
// before the app): one gradient controller per data plane, kept across snapshots while its config
// stays the same, and its metrics. The inbound handler asks `current()` per request.

import type { AdaptiveConcurrencySpec } from '../../../config/kinds/backend-policy-adaptive-concurrency.ts';
import { systemClock, type Clock } from '../../../lib/clock.ts';
import type { Counter, Gauge } from '../../../lib/metrics.ts';
import { GradientController } from './gradient-controller.ts';

export interface AdaptiveConcurrencyOptions {
  /** `name.namespace` of this sidecar's own service: the metrics' `service` label. */
  readonly service: string;
  /** The data plane's worker thread (0 = main): the minRTT gauge's `worker` label. */
  readonly worker: string;
  readonly metrics: {
    readonly adaptiveConcurrencyLimit: Gauge;
    readonly adaptiveConcurrencyMinRtt: Gauge;
    readonly adaptiveConcurrencyRejected: Counter;
  };
  readonly clock?: Clock;
  readonly random?: () => number;
}

/** What the inbound handler sees: the controller in force, if any, and the count of requests it sheds. */
export interface AdaptiveConcurrency {
  /** The controller in force; undefined when the service's BackendPolicy sets no adaptiveConcurrency. */
  current(): GradientController | undefined;
  /** A request was shed with 503 concurrency-limit-exceeded. */
  shed(): void;
  /** The config of a new snapshot (undefined: off). A config equal to the one in force keeps its controller, its learned limit and its in-flight count. */
  update(config: AdaptiveConcurrencySpec | undefined): void;
  close(): void;
}

export function createAdaptiveConcurrency(o: AdaptiveConcurrencyOptions): AdaptiveConcurrency {
  const labels = { service: o.service };
  const rttLabels = { service: o.service, worker: o.worker };
  const rejected = o.metrics.adaptiveConcurrencyRejected.bind(labels);
  let controller: GradientController | undefined;
  let key = '';
  return {
    current: () => controller,
    shed: () => rejected.inc(),
    update(config) {
      // Snapshots come for every endpoint change anywhere in scope: an unchanged config must not reset what was learned.
      const next = config === undefined ? '' : JSON.stringify(config);
      if (next === key) return;
      key = next;
      // Requests admitted by the old controller release into it; the new one counts only its own.
      controller?.close();
      controller = undefined;
      if (config === undefined) {
        o.metrics.adaptiveConcurrencyLimit.set(labels, 0);
        o.metrics.adaptiveConcurrencyMinRtt.set(rttLabels, 0);
        return;
      }
      controller = new GradientController({
        config,
        clock: o.clock ?? systemClock,
        random: o.random,
        onChange: (limit, minRttMs) => {
          o.metrics.adaptiveConcurrencyLimit.set(labels, limit);
          o.metrics.adaptiveConcurrencyMinRtt.set(rttLabels, minRttMs / 1000);
        },
      });
    },
    close() {
      controller?.close();
      controller = undefined;
    },
  };
}
