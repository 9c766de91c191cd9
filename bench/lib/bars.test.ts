// The bench's arithmetic (not run by CI's unit glob; `node --test bench/lib/*.test.ts`): medians over
// all and clean rounds, ratios per table, RSS − floor per round, and the bars' PASS/FAIL/not measured.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { computeBars } from './bars.ts';
import { summarize, type Sample } from './stats.ts';

const CONTENDERS = [
  { id: 'direct', label: 'direct', group: 'baseline' },
  { id: 'weft-sidecar', label: 'sidecar', group: 'one-hop' },
  { id: 'nginx', label: 'nginx', group: 'one-hop' },
  { id: 'node-floor', label: 'floor', group: 'one-hop' },
  { id: 'weft-mesh-features', label: 'headline', group: 'mesh' },
  { id: 'nginx-mesh', label: 'nginx mesh', group: 'mesh' },
  { id: 'node-floor-2hops-tls', label: 'tls floor', group: 'mesh' },
];

/** One sample: req/s, warm and fresh p99 (ms), peak RSS at the fixed rate (MiB), proxy-CPU steal (%). */
function sample(contender: string, round: number, rps: number, p99: number, opts: { cold?: number; rssMiB?: number; steal?: number } = {}): Sample {
  const fixed = (p: number) => ({ rate: 1000, seconds: 5, scheduled: 5000, measured: 5000, ok: 5000, non2xx: 0, errors: 0, unfinished: 0, p50Ms: p / 2, p99Ms: p, p999Ms: p * 2 }) as never;
  return {
    contender,
    round,
    loadAverage: 0,
    wrk: { requestsPerSec: rps, requests: rps * 5, seconds: 5, latencyAvgMs: 1, non2xx3xx: 0, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, raw: '' },
    latency: fixed(p99),
    coldLatency: fixed(opts.cold ?? p99),
    memory: { headlineHwmKiB: (opts.rssMiB ?? 0) * 1024, atRateHwmKiB: (opts.rssMiB ?? 0) * 1024, idleRssKiB: 0, processes: [] },
    steal: { latencyProxyCpuPct: opts.steal ?? 0, latencyLoadCpuPct: 0, saturationProxyCpuPct: 0 },
  };
}

test('clean medians leave out rounds with proxy-CPU steal over 2%; ratios are per table; RSS − floor is per round', () => {
  const samples = [
    sample('direct', 1, 50_000, 1), sample('direct', 2, 50_000, 1), sample('direct', 3, 50_000, 1),
    sample('weft-sidecar', 1, 20_000, 3, { rssMiB: 70 }), sample('weft-sidecar', 2, 10_000, 9, { rssMiB: 90, steal: 5 }), sample('weft-sidecar', 3, 22_000, 3.5, { rssMiB: 66 }),
    sample('nginx', 1, 40_000, 1.5), sample('nginx', 2, 40_000, 1.5), sample('nginx', 3, 40_000, 1.5),
    sample('node-floor', 1, 25_000, 2, { rssMiB: 60 }), sample('node-floor', 2, 25_000, 2, { rssMiB: 80 }), sample('node-floor', 3, 25_000, 2, { rssMiB: 60 }),
  ];
  const summary = summarize(CONTENDERS.slice(0, 4), samples);
  const sc = summary.find((s) => s.id === 'weft-sidecar')!;
  assert.equal(sc.cleanRounds, 2);
  assert.deepEqual(sc.rpsBoth, { all: 20_000, clean: 21_000 });
  assert.deepEqual(sc.p99Both, { all: 3.5, clean: 3.25 });
  assert.deepEqual(sc.addedP99Both, { all: 2.5, clean: 2.25 });
  assert.deepEqual(sc.ratios, { nginx: { all: 0.5, clean: 0.53 }, 'node-floor': { all: 0.8, clean: 0.84 } });
  // Same-round differences 10, 10, 6 MiB: median 10 (the medians' difference would be 70 − 60).
  assert.equal(sc.rssOverFloorMiB, 10);
  const bars = computeBars(summary);
  assert.equal(bars.find((b) => b.id === 'one-hop-vs-node-floor')!.pass, true);
  assert.equal(bars.find((b) => b.id === 'one-hop-vs-nginx')!.pass, false);
  assert.equal(bars.find((b) => b.id === 'sidecar-rss')!.pass, true);
  // No mesh rows ran: their bars are not measured, never passed.
  for (const id of ['mesh-vs-node-tls-floor', 'mesh-vs-nginx-mesh', 'mesh-added-p99', 'mesh-fresh-p99', 'observed', 'routes']) assert.equal(bars.find((b) => b.id === id)!.pass, undefined, id);
});

test('the mesh bars: the headline against the nginx mesh and the Node TLS floor, added p99 over clean rounds, fresh over warm per round', () => {
  const samples = [
    sample('direct', 1, 50_000, 1), sample('direct', 2, 50_000, 1),
    sample('weft-mesh-features', 1, 8_000, 2.5, { cold: 6 }), sample('weft-mesh-features', 2, 8_000, 30, { cold: 31, steal: 3 }),
    sample('nginx-mesh', 1, 20_000, 2), sample('nginx-mesh', 2, 20_000, 2),
    sample('node-floor-2hops-tls', 1, 10_000, 2), sample('node-floor-2hops-tls', 2, 10_000, 2),
  ];
  const bars = computeBars(summarize(CONTENDERS, samples));
  const bar = (id: string) => bars.find((b) => b.id === id)!;
  assert.equal(bar('mesh-vs-node-tls-floor').pass, true); // 0.8 ≥ 0.7
  assert.equal(bar('mesh-vs-nginx-mesh').pass, false); // 0.4 < 0.5
  // Clean rounds only: 1.5 ms added vs nginx mesh's 1 ms + 1 (the stolen round's 30 ms is left out).
  assert.equal(bar('mesh-added-p99').pass, true);
  // Per round 2.4× and 1.03×: median 1.72× ≤ 2.
  assert.equal(bar('mesh-fresh-p99').pass, true);
  assert.match(bar('mesh-fresh-p99').measured, /^1\.72×/);
});
