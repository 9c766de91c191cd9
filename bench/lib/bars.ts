// The bars a run is judged by (issue 17's, issue 15's, the route table's), computed from the
// summary's medians and printed with PASS/FAIL by run.ts and in the report; a bar whose rows were
// not run (--only) or failed is "not measured", never a pass.

import { HEADLINE_MESH } from './contenders.ts';
import type { Summary } from './stats.ts';

export interface Bar {
  readonly id: string;
  /** The bar as the issue states it. */
  readonly text: string;
  /** What this run measured, with the numbers it came from. */
  readonly measured: string;
  /** undefined: not measured (a row missing or failed). */
  readonly pass: boolean | undefined;
}

const f2 = (n: number): string => n.toFixed(2);
const ok = (...values: number[]): boolean => values.every(Number.isFinite);

/** Computes every bar from the run's summary (medians over rounds; latency over clean rounds where the bar says so). */
export function computeBars(summary: readonly Summary[]): Bar[] {
  const row = (id: string): Summary | undefined => summary.find((s) => s.id === id && s.rounds > s.failedRounds);
  const sidecar = row('weft-sidecar');
  // The headline mesh row; weft-mesh (mutual TLS, no route or policy) stands in when it was not run.
  const mesh = row(HEADLINE_MESH) ?? row('weft-mesh');
  const meshName = mesh?.id ?? HEADLINE_MESH;
  const nginxMesh = row('nginx-mesh');
  const bars: Bar[] = [];
  const ratioBar = (id: string, text: string, who: Summary | undefined, refId: string, limit: number): void => {
    const ref = row(refId);
    const value = who?.ratios[refId]?.all ?? NaN;
    bars.push({
      id,
      text,
      measured: ok(value) ? `${f2(value)}× (${who!.rps} ÷ ${ref!.rps} req/s)` : `not measured (needs ${who?.id ?? 'the weft row'} and ${refId})`,
      pass: ok(value) ? value >= limit : undefined,
    });
  };
  ratioBar('one-hop-vs-node-floor', 'one hop: weft-sidecar ≥ 0.8× the Node one-hop floor', sidecar, 'node-floor', 0.8);
  ratioBar('one-hop-vs-nginx', 'one hop: weft-sidecar ≥ 0.6× nginx one hop', sidecar, 'nginx', 0.6);
  ratioBar('mesh-vs-node-tls-floor', `mesh path: ${meshName} ≥ 0.7× the Node TLS floor`, mesh, 'node-floor-2hops-tls', 0.7);
  ratioBar('mesh-vs-nginx-mesh', `mesh path: ${meshName} ≥ 0.5× the nginx mTLS mesh`, mesh, 'nginx-mesh', 0.5);

  const added = mesh?.addedP99Both.clean ?? NaN;
  const nginxAdded = nginxMesh?.addedP99Both.clean ?? NaN;
  bars.push({
    id: 'mesh-added-p99',
    text: `added p99 at the fixed rate, clean rounds: ${meshName} ≤ nginx mTLS mesh + 1 ms`,
    measured: ok(added, nginxAdded) ? `${f2(added)} ms vs ${f2(nginxAdded)} + 1 ms (${mesh!.cleanRounds} and ${nginxMesh!.cleanRounds} clean rounds)` : 'not measured (needs direct, the mesh rows and clean rounds of each)',
    pass: ok(added, nginxAdded) ? added <= nginxAdded + 1 : undefined,
  });
  const cold = mesh?.coldOverWarmP99 ?? NaN;
  bars.push({
    id: 'mesh-fresh-p99',
    text: `fresh mesh path p99 ≤ 2× warm p99, same round: ${meshName}`,
    measured: ok(cold) ? `${f2(cold)}× (median per round; p99 fresh ${f2(mesh!.coldP99Ms)} ms, warm ${f2(mesh!.p99Ms)} ms)` : 'not measured',
    pass: ok(cold) ? cold <= 2 : undefined,
  });
  const rss = sidecar?.rssOverFloorMiB ?? NaN;
  bars.push({
    id: 'sidecar-rss',
    text: 'peak RSS of one sidecar at the fixed rate ≤ the Node floor + 10 MiB, same round',
    measured: ok(rss) ? `+${rss.toFixed(1)} MiB (weft-sidecar ${sidecar!.peakRssAtRateMiB.toFixed(1)} MiB)` : 'not measured (needs weft-sidecar and node-floor)',
    pass: ok(rss) ? rss <= 10 : undefined,
  });
  const sameRun = (id: string, text: string, whoId: string, limit: number): void => {
    const who = row(whoId);
    const value = who && sidecar && sidecar.rps > 0 ? who.rps / sidecar.rps : NaN;
    bars.push({
      id,
      text,
      measured: ok(value) ? `${value.toFixed(3)}× (${who!.rps} ÷ ${sidecar!.rps} req/s; p99 ${f2(who!.p99Ms)} vs ${f2(sidecar!.p99Ms)} ms)` : `not measured (needs weft-sidecar and ${whoId})`,
      pass: ok(value) ? value >= limit : undefined,
    });
  };
  sameRun('observed', 'issue 15: one hop with access log 1% + tracing 1% ≥ 0.9× the same sidecar with both off', 'weft-sidecar-observed', 0.9);
  sameRun('routes', 'route table: one hop with 50 HTTPRoutes × 5 rules ≥ 0.9× the sidecar without', 'weft-sidecar-routes', 0.9);
  return bars;
}

export const verdict = (b: Bar): string => (b.pass === undefined ? '—' : b.pass ? 'PASS' : 'FAIL');
