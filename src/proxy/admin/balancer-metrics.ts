// Scrape-time balancer gauges: the peak-EWMA score of each endpoint of each peak-ewma service port,
// read from the balancers when /metrics is asked for (nothing is counted per request).

import type { Gauge } from '../../lib/metrics.ts';
import type { ServiceTable } from '../balance/service-table.ts';

/**
 * Replaces the gauge's series with the current scores: one per endpoint of every service port whose
 * policy uses peak-ewma, so series of endpoints that left (or of a service that changed algorithm)
 * disappear. `destination_service` is `name.namespace:port`.
 */
export function updatePeakEwmaScores(gauge: Gauge, table: ServiceTable | undefined): void {
  gauge.reset();
  if (table === undefined) return;
  for (const service of table.entries()) {
    for (const entry of service.ports.values()) {
      if (entry.policy.loadBalancer.algorithm !== 'peak-ewma') continue;
      const destination = `${service.service.name}.${service.service.namespace}:${entry.port.port}`;
      for (const s of entry.balancer.endpointStats()) gauge.set({ destination_service: destination, endpoint: s.id }, Math.round(s.peakEwmaScore * 1000) / 1000);
    }
  }
}
