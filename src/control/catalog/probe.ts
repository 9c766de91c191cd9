// One active health check the control plane runs against an instance (one registered without a
// sidecar, or whose checks say `checkedBy: control-plane`): the probe of its type from
// lib/health-probe, made for this run and released after. Returns why it failed, for `healthReason`.

import type { HealthCheckSpec } from '../../config/catalog-types.ts';
import { CONTROL_PLANE_CHECK_USER_AGENT } from '../../config/health-check.ts';
import { createProbe, type ProbeResult } from '../../lib/health-probe/probe.ts';

export type { ProbeResult };

export async function probe(check: HealthCheckSpec, host: string, port: number): Promise<ProbeResult> {
  const p = createProbe(check, { host, port, userAgent: CONTROL_PLANE_CHECK_USER_AGENT });
  try {
    return await p.run();
  } finally {
    p.close();
  }
}
