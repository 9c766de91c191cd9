import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from './metrics.ts';

function registry() {
  const r = new Registry();
  return {
    r,
    requests: r.counter('reqs_total', 'Requests.', ['code']),
    open: r.gauge('open', 'Open connections.', ['listener']),
    latency: r.histogram('lat_seconds', 'Latency.', ['svc'], [0.1, 1]),
  };
}

test('renders counters, gauges and cumulative histogram buckets', () => {
  const m = registry();
  m.requests.inc({ code: '200' }, 3);
  m.open.set({ listener: 'outbound' }, 2);
  m.latency.observe({ svc: 'a' }, 0.05);
  m.latency.observe({ svc: 'a' }, 0.5);
  const text = m.r.render();
  assert.match(text, /^reqs_total\{code="200"\} 3$/m);
  assert.match(text, /^open\{listener="outbound"\} 2$/m);
  assert.match(text, /^lat_seconds_bucket\{svc="a",le="0.1"\} 1$/m);
  assert.match(text, /^lat_seconds_bucket\{svc="a",le="1"\} 2$/m);
  assert.match(text, /^lat_seconds_count\{svc="a"\} 2$/m);
});

test('dumps of other registries (worker threads) are summed in, series by series', () => {
  const main = registry();
  const worker = registry();
  main.requests.inc({ code: '200' }, 3);
  worker.requests.inc({ code: '200' }, 4);
  worker.requests.inc({ code: '503' });
  main.open.set({ listener: 'outbound' }, 1);
  worker.open.set({ listener: 'outbound' }, 2);
  main.latency.observe({ svc: 'a' }, 0.05);
  worker.latency.observe({ svc: 'a' }, 0.5);
  worker.latency.observe({ svc: 'b' }, 5);
  const dump = structuredClone(worker.r.dump());
  const text = main.r.render([dump]);
  assert.match(text, /^reqs_total\{code="200"\} 7$/m);
  assert.match(text, /^reqs_total\{code="503"\} 1$/m);
  assert.match(text, /^open\{listener="outbound"\} 3$/m);
  assert.match(text, /^lat_seconds_bucket\{svc="a",le="0.1"\} 1$/m);
  assert.match(text, /^lat_seconds_bucket\{svc="a",le="1"\} 2$/m);
  assert.match(text, /^lat_seconds_bucket\{svc="b",le="\+Inf"\} 1$/m);
  assert.match(text, /^lat_seconds_sum\{svc="a"\} 0.55$/m);
  // Rendering merged must not change the registry's own values.
  assert.match(main.r.render(), /^reqs_total\{code="200"\} 3$/m);
  assert.match(main.r.render(), /^lat_seconds_count\{svc="a"\} 1$/m);
  assert.equal((main.r.render().match(/# TYPE reqs_total/g) ?? []).length, 1);
});

test('bound series count into the same series as labelled calls', () => {
  const { r, requests, latency } = registry();
  const ok = requests.bind({ code: '200' });
  ok.inc();
  ok.inc(2);
  requests.inc({ code: '200' });
  const fast = latency.bind({ svc: 'a' });
  fast.observe(0.05);
  latency.observe({ svc: 'a' }, 0.5);
  assert.equal(requests.get({ code: '200' }), 4);
  const text = r.render();
  assert.match(text, /lat_seconds_bucket\{svc="a",le="0.1"\} 1\n/);
  assert.match(text, /lat_seconds_count\{svc="a"\} 2\n/);
});
