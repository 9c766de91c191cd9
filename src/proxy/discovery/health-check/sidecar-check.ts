// The check a sidecar runs on its own app, from its flags (--health-check, --health-path, …): read
// by the same validator as a registration's `checks` (config/health-check.ts), aimed at the app's
// host and port, and marked `checkedBy: sidecar` so the control plane leaves it to the sidecar.

import type { HealthCheckSpec } from '../../../config/catalog-types.ts';
import { readHealthCheck } from '../../../config/health-check.ts';
import { invalid } from '../../../lib/errors.ts';
import { Checker } from '../../../config/validate.ts';

/** A sidecar's own check as its flags give it: a registration check's fields but the target and runner. */
export interface SidecarCheckInput {
  /** `http` (the default when `path` is given), `tcp` or `grpc`. */
  readonly type?: string;
  readonly path?: string;
  readonly hostHeader?: string;
  readonly serviceName?: string;
  readonly intervalMs?: number;
  readonly timeoutMs?: number;
  readonly intervalJitterMs?: number;
  readonly intervalJitterPercent?: number;
  readonly healthyThreshold?: number;
  readonly unhealthyThreshold?: number;
}

/** The sidecar's defaults: as `--health-path` has always checked (every 2 s, 1 s timeout, thresholds 1). */
export const SIDECAR_CHECK_DEFAULTS = { intervalMs: 2_000, timeoutMs: 1_000 } as const;

/**
 * The validated check aimed at the app (host, port), or undefined when no check is asked for.
 * Throws WEFT_ERR_PROXY_BAD_HEALTH_CHECK (400) naming each bad field (`healthCheck.intervalMs`).
 */
export function sidecarCheck(input: SidecarCheckInput | undefined, app: { host: string; port: number }): HealthCheckSpec | undefined {
  if (!input || (input.type === undefined && input.path === undefined)) return undefined;
  const raw = Object.fromEntries(
    Object.entries({ ...SIDECAR_CHECK_DEFAULTS, ...input, type: input.type ?? 'http', host: app.host, port: app.port, checkedBy: 'sidecar' }).filter(([, v]) => v !== undefined),
  );
  const c = new Checker();
  const check = readHealthCheck(c, raw, 'healthCheck');
  if (c.errors.length || !check) throw invalid('WEFT_ERR_PROXY_BAD_HEALTH_CHECK', `bad health check: ${c.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, c.errors);
  return check;
}
