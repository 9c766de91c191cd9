// What `weft stat` and `weft top` share: reading GET /v1/stats and laying golden signals out as
// tables (success rate, req/s, p50/p95/p99), with the usual column conventions of `linkerd viz stat`.

import type { EdgeSummary, LatencyPercentiles, ServiceStats, StatsSummary } from '../config/stats-report.ts';
import { WeftError } from '../lib/errors.ts';
import type { ApiClient } from './api-client.ts';
import { renderTable } from './output.ts';

/** `NAME` or `NAME.NAMESPACE` (with -n NS, or `default`) → `NAME.NAMESPACE`; a usage error otherwise. */
export function serviceArg(value: string, namespace: string | undefined): string {
  const full = value.includes('.') ? value : `${value}.${namespace ?? 'default'}`;
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(full)) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `SERVICE must be NAME or NAME.NAMESPACE, got ${JSON.stringify(value)}`, 2);
  }
  return full;
}

/** --window: whole seconds (the control plane bounds it by its retention). */
export function windowArg(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < 1) throw new WeftError('WEFT_ERR_CLI_USAGE', `--window must be whole seconds (at least 1), got ${JSON.stringify(value)}`, 2);
  return Number(value);
}

export function fetchStats(api: ApiClient, windowSeconds?: number, service?: string): Promise<StatsSummary> {
  const q = new URLSearchParams();
  if (windowSeconds !== undefined) q.set('window', String(windowSeconds));
  if (service !== undefined) q.set('service', service);
  const qs = q.toString();
  return api.request<StatsSummary>('GET', `/v1/stats${qs ? `?${qs}` : ''}`);
}

const pct = (rate: number | null): string => (rate === null ? '-' : `${(rate * 100).toFixed(2)}%`);
const ms = (v: number | null): string => (v === null ? '-' : v < 10 ? `${v.toFixed(1)}ms` : `${Math.round(v)}ms`);
const rps = (v: number): string => (v < 10 ? v.toFixed(2) : v.toFixed(1));
const latency = (l: LatencyPercentiles): string[] => [ms(l.p50), ms(l.p95), ms(l.p99)];

export function servicesTable(services: readonly ServiceStats[]): string {
  return renderTable(
    ['SERVICE', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'REQUESTS', 'PROXIES'],
    services.map((s) => [s.service, pct(s.successRate), rps(s.rps), ...latency(s.latencyMs), String(s.requests), String(s.proxies)]),
  );
}

export function edgesTable(edges: readonly EdgeSummary[]): string {
  return renderTable(
    ['SOURCE', 'DESTINATION', 'SUCCESS', 'RPS', 'P50', 'P95', 'P99', 'REQUESTS'],
    edges.map((e) => [e.source, e.destination, pct(e.successRate), rps(e.rps), ...latency(e.latencyMs), String(e.requests)]),
  );
}
