// What outbound requests to one destination Service report to: its retry budget in this sidecar and
// the counters of retries, budget exhaustion and circuit-breaker refusals, bound once per destination
// (and again only when the budget is replaced), so a request costs no closure or label lookup here.

import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import { backendRetryPolicy } from '../resilience/retry/retry-policy.ts';
import { RetryBudgets, type RetryBudget } from '../resilience/retry/budget.ts';
import type { CircuitLimit } from '../resilience/circuit-breaker/circuit-breaker.ts';
import type { RetryReason } from './attempt-rules.ts';

/** What requests to one destination Service report to, bound once (destinationSinks). */
export interface DestinationSinks {
  readonly budget: RetryBudget;
  readonly onRetry: (reason: RetryReason) => void;
  readonly onBudgetExhausted: () => void;
  readonly onCircuitOpen: (limit: CircuitLimit) => void;
}

/**
 * The sinks of one data plane's outbound side: `sinksOf(destination, policy)` gives the bundle for a
 * destination (`name.namespace`, or `passthrough`) under its policy's retry budget (Linkerd's
 * retryBudget: one per Service per sidecar, kept across snapshots).
 */
export function destinationSinks(metrics: ProxyMetrics): (destination: string, policy: BackendPolicySpec) => DestinationSinks {
  // One retry budget per destination Service in this data plane, kept across snapshots. What a
  // request to a destination reports to (retries, budget exhaustion, circuit-breaker refusals) is
  // bound once per destination and budget, not made per request.
  const budgets = new RetryBudgets();
  const sinks = new Map<string, DestinationSinks>();
  const sinksOf = (destination: string, policy: BackendPolicySpec): DestinationSinks => {
    const budget = budgets.of(destination, backendRetryPolicy(policy.retries).budget!);
    let s = sinks.get(destination);
    if (s === undefined || s.budget !== budget) {
      const retries = metrics.retries;
      const exhausted = metrics.retryBudgetExhausted.bind({ destination_service: destination });
      s = {
        budget,
        onRetry: (reason) => retries.inc({ destination_service: destination, reason }),
        onBudgetExhausted: () => exhausted.inc(),
        onCircuitOpen: (limit) => metrics.circuitRejections.inc({ destination_service: destination, limit }),
      };
      // Bounded by the Services of the mesh (and `passthrough`), like the metrics' labels.
      if (sinks.size >= 1024) sinks.clear();
      sinks.set(destination, s);
    }
    return s;
  };
  return sinksOf;
}
