// Demo app `loadgen`: a light, steady client of the mesh (RATE req/s to http://frontend/api/product/N
// through its sidecar). Every 10 s it prints one line of counts — status, catalog instance, reviews
// version — so load balancing is visible; on SIGINT/SIGTERM it prints the totals and exits.

import { onShutdown, sendJson, serve } from './http-app.ts';
import { failureReason, meshGet } from './mesh-client.ts';

const rate = Math.max(0.1, Number(process.env.RATE ?? 5) || 5);
const intervalSeconds = Math.max(1, Number(process.env.SUMMARY_SECONDS ?? 10) || 10);
const target = process.env.TARGET ?? 'http://frontend';
const products = Math.max(1, Number(process.env.PRODUCTS ?? 5) || 5);
const MAX_IN_FLIGHT = 100;

class Tally {
  requests = 0;
  readonly status = new Map<string, number>();
  readonly catalog = new Map<string, number>();
  readonly reviews = new Map<string, number>();
  readonly reasons = new Map<string, number>();
  readonly latencies: number[] = [];
  readonly started = Date.now();

  add(status: string, ms: number, catalog?: string, reviews?: string, reason?: string): void {
    this.requests++;
    bump(this.status, status);
    if (catalog) bump(this.catalog, catalog);
    if (status === '200') bump(this.reviews, reviews ?? 'none');
    if (reason) bump(this.reasons, reason);
    this.latencies.push(ms);
  }

  line(label: string): string {
    const seconds = Math.round((Date.now() - this.started) / 1000);
    const parts = [`${label} ${seconds}s: ${this.requests} requests`, `status ${fmt(this.status)}`, `catalog ${fmt(this.catalog)}`, `reviews ${fmt(this.reviews)}`];
    if (this.reasons.size) parts.push(`failures ${fmt(this.reasons)}`);
    if (this.latencies.length) {
      const sorted = [...this.latencies].sort((a, b) => a - b);
      const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
      parts.push(`latency p50 ${q(0.5).toFixed(0)}ms p99 ${q(0.99).toFixed(0)}ms`);
    }
    return parts.join(' | ');
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function fmt(map: Map<string, number>): string {
  if (!map.size) return '-';
  return [...map.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}×${n}`).join(' ');
}

let recent = new Tally();
const total = new Tally();
let inFlight = 0;
let next = 0;

async function once(): Promise<void> {
  const id = (next++ % products) + 1;
  const started = performance.now();
  let status = 'error';
  let catalog: string | undefined;
  let reviews: string | undefined;
  let reason: string | undefined;
  try {
    const r = await meshGet(`${target}/api/product/${id}`, 5_000);
    status = String(r.status);
    let body: { catalogInstance?: string; reviewsVersion?: string; reviewsError?: { reason?: string } } | undefined;
    try {
      body = JSON.parse(r.body) as typeof body;
    } catch {
      body = undefined;
    }
    catalog = body?.catalogInstance;
    reviews = body?.reviewsVersion;
    if (r.status !== 200) reason = r.header('x-weft-reason') ?? `http-${r.status}`;
    else if (body?.reviewsError) reason = `reviews:${body.reviewsError.reason ?? 'unknown'}`;
  } catch (err) {
    reason = failureReason(err).split(' ')[0];
  }
  const ms = performance.now() - started;
  recent.add(status, ms, catalog, reviews, reason);
  total.add(status, ms, catalog, reviews, reason);
}

const tick = setInterval(() => {
  if (inFlight >= MAX_IN_FLIGHT) return;
  inFlight++;
  void once().finally(() => inFlight--);
}, 1000 / rate);

const report = setInterval(() => {
  console.log(recent.line('last'));
  recent = new Tally();
}, intervalSeconds * 1000);

console.log(`loadgen: ${rate} req/s to ${target}/api/product/1..${products}, a summary every ${intervalSeconds}s`);

// `weft run` wants an app port to health-check; answer /healthz there when PORT is set.
serve('loadgen', (req, res, url) => sendJson(res, 404, { error: `no route for ${req.method} ${url.pathname}` }), { optional: true });

onShutdown(() => {
  clearInterval(tick);
  clearInterval(report);
  console.log(total.line('total'));
});
