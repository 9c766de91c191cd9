// What the inbound and outbound handlers count for each request (weft_proxy_requests_total and the
// duration histogram), with every label set's series looked up once and kept: the labels are
// bounded (services of the mesh, status codes, local-reply reasons), so is this cache. The stats
// reporter (proxy/observe/stats-reporter.ts) reads the same series: nothing more per request.

import type { ProxyMetrics } from '../admin/proxy-metrics.ts';
import type { LocalReplyReason } from './local-reply.ts';

type Count = { inc(by?: number): void };
type Observe = { observe(value: number): void };

export interface RequestRecorder {
  /** One finished request; `seconds` from its head to its response's end. */
  record(source: string, destination: string, status: number, reason: LocalReplyReason | undefined, seconds: number): void;
}

interface EdgeSeries {
  /** status (or `status reason` for local replies) → series */
  readonly outcomes: Map<number | string, Count>;
  readonly duration: Observe;
}

export function createRequestRecorder(metrics: ProxyMetrics, direction: 'inbound' | 'outbound'): RequestRecorder {
  // source → destination → series
  const edges = new Map<string, Map<string, EdgeSeries>>();
  const deadlineExceeded = metrics.deadlineExceeded.bind({ direction });
  return {
    record(source, destination, status, reason, seconds) {
      if (reason === 'deadline-exceeded') deadlineExceeded.inc();
      let bySource = edges.get(source);
      if (bySource === undefined) edges.set(source, (bySource = new Map()));
      let edge = bySource.get(destination);
      if (edge === undefined) {
        edge = { outcomes: new Map(), duration: metrics.duration.bind({ direction, source, destination_service: destination }) };
        bySource.set(destination, edge);
      }
      const key = reason === undefined ? status : `${status} ${reason}`;
      let count = edge.outcomes.get(key);
      if (count === undefined) {
        count = metrics.requests.bind({ direction, source, destination_service: destination, code: String(status), reason: reason ?? '' });
        edge.outcomes.set(key, count);
      }
      count.inc();
      edge.duration.observe(seconds);
    },
  };
}

export interface RouteRecorder {
  /** One request an HTTPRoute or GRPCRoute governed (weft_proxy_route_requests_total); `reason` '' when the app answered. */
  record(route: string, rule: string, destination: string, status: number, reason: string): void;
}

/**
 * weft_proxy_route_requests_total with its series found through nested maps keyed by the strings
 * the route table already holds, so a routed request builds no label object and no label key
 * (Counter.inc did both, and its generic label lookup was one of the sidecar's megamorphic loads).
 * Bounded like the metric: routes and rules applied, destinations they name, statuses and reasons.
 */
export function createRouteRecorder(metrics: ProxyMetrics): RouteRecorder {
  // route → rule → destination → `status` or `status reason` → series
  const routes = new Map<string, Map<string, Map<string, Map<number | string, Count>>>>();
  return {
    record(route, rule, destination, status, reason) {
      let byRule = routes.get(route);
      if (byRule === undefined) routes.set(route, (byRule = new Map()));
      let byDestination = byRule.get(rule);
      if (byDestination === undefined) byRule.set(rule, (byDestination = new Map()));
      let outcomes = byDestination.get(destination);
      if (outcomes === undefined) byDestination.set(destination, (outcomes = new Map()));
      const key = reason === '' ? status : `${status} ${reason}`;
      let count = outcomes.get(key);
      if (count === undefined) {
        count = metrics.routeRequests.bind({ route, rule, destination_service: destination, code: String(status), reason });
        outcomes.set(key, count);
      }
      count.inc();
    },
  };
}
