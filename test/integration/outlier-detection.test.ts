// Bar (issue 13): outlier detection with real processes. Three instances of a service, each behind
// `weft proxy`, and a client sidecar. One instance starts answering every request with 500: the
// client's sidecar ejects it after consecutive5xx of them, sends it nothing while it is ejected,
// shows the ejection in its metrics and /config, and readmits it once it recovers and the ejection
// time has passed.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminMetrics, metricSample, startControlPlane, startSidecar, waitForInSync, waitForPassing, type ControlPlaneProcess, type SidecarProcess } from '../support/mesh.ts';
import { getViaProxy } from '../support/upstreams.ts';
import { stopAll, waitFor } from '../support/processes.ts';

const CONSECUTIVE_5XX = 3;
const BASE_EJECTION_MS = 8_000;

/** An app that names itself and answers 500 to everything but its health path while told to fail. */
interface App {
  readonly name: string;
  readonly port: number;
  hits(): number;
  setFailing(failing: boolean): void;
  close(): Promise<void>;
}

async function startApp(name: string): Promise<App> {
  let hits = 0;
  let failing = false;
  const server = http.createServer((req, res) => {
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    hits++;
    req.resume();
    req.on('end', () => {
      if (failing) res.writeHead(500, { 'content-type': 'text/plain' }).end(`${name} is broken`);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ name }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    hits: () => hits,
    setFailing: (f) => {
      failing = f;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

interface Stats {
  id: string;
  ejectedUntil?: number;
  ejectionCount: number;
  lastEjectionReason?: string;
}

let cp: ControlPlaneProcess;
let apps: App[] = [];
let client: SidecarProcess;

async function endpointStats(): Promise<Stats[]> {
  const config = (await (await fetch(`http://127.0.0.1:${client.adminPort}/config`)).json()) as { endpointStats?: { service: string; endpoints: Stats[] }[] };
  return config.endpointStats?.find((p) => p.service === 'flaky.default')?.endpoints ?? [];
}

before(async () => {
  cp = await startControlPlane();
  apps = await Promise.all(['a', 'b', 'c'].map((n) => startApp(n)));
  const sidecars = await Promise.all([
    ...apps.map((app) => startSidecar(cp.url, 'flaky', ['--app-port', String(app.port), '--ttl-seconds', '5'])),
    startSidecar(cp.url, 'client'),
  ]);
  client = sidecars[3];
  await waitForPassing(cp, 'flaky', 3);
  const res = await cp.api('PUT', '/v1/resources/backendpolicies/default/flaky', {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name: 'flaky' },
    spec: {
      targetRefs: [{ kind: 'Service', name: 'flaky' }],
      // Round robin: every instance gets its turn, so the bad one meets its consecutive 5xx (peak-ewma,
      // the default, would already keep it to a trickle; see balancing-adaptive.test.ts).
      loadBalancer: { algorithm: 'round-robin' },
      outlierDetection: { consecutive5xx: CONSECUTIVE_5XX, baseEjectionTimeMs: BASE_EJECTION_MS, intervalMs: 1_000, successRate: { enabled: false } },
    },
  });
  assert.ok(res.status === 200 || res.status === 201, JSON.stringify(res.body));
  await waitForInSync(cp, 4);
  await waitFor('the client runs the policy with 3 endpoints', async () => {
    const config = (await (await fetch(`http://127.0.0.1:${client.adminPort}/config`)).json()) as { snapshot?: { services: { name: string; policy: { outlierDetection?: { consecutive5xx: number } } }[] } };
    const policy = config.snapshot?.services.find((s) => s.name === 'flaky')?.policy;
    return policy?.outlierDetection?.consecutive5xx === CONSECUTIVE_5XX && (await endpointStats()).length === 3;
  }, 20_000);
});

after(async () => {
  await stopAll();
  await Promise.all(apps.map((a) => a.close()));
  await cp?.cleanup();
});

test('an instance answering only 500 is ejected after consecutive5xx, gets nothing while out, and is readmitted once well', async () => {
  const [, , bad] = apps;
  // All three serve while healthy.
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) {
    const r = await getViaProxy(client.outboundPort, 'http://flaky/warm');
    assert.equal(r.status, 200, r.body);
    seen.add(JSON.parse(r.body).name);
  }
  assert.deepEqual([...seen].sort(), ['a', 'b', 'c']);

  bad.setFailing(true);
  const hitsWhenBad = bad.hits();
  let failures = 0;
  // Sequential requests through one client: the bad instance sees every third until ejected.
  for (let i = 0; i < 30; i++) {
    const r = await getViaProxy(client.outboundPort, `http://flaky/during/${i}`);
    if (r.status === 500) failures++;
    else assert.equal(r.status, 200, r.body);
  }
  const served = bad.hits() - hitsWhenBad;
  assert.ok(served >= CONSECUTIVE_5XX && served <= CONSECUTIVE_5XX + 2, `the bad instance got ${served} requests after going bad`);
  assert.equal(failures, served, 'every request it got failed, and only those');

  const ejected = (await endpointStats()).filter((s) => s.ejectedUntil !== undefined);
  assert.equal(ejected.length, 1, JSON.stringify(await endpointStats()));
  assert.equal(ejected[0].lastEjectionReason, 'consecutive-5xx');
  assert.equal(ejected[0].ejectionCount, 1);

  const metrics = await adminMetrics(client.adminPort);
  assert.equal(metricSample(metrics, 'weft_proxy_outlier_ejections_total{destination_service="flaky.default",reason="consecutive-5xx"}'), 1, metrics);
  assert.equal(metricSample(metrics, 'weft_proxy_outlier_ejections_active{destination_service="flaky.default"}'), 1);

  // While it is ejected (until ejectedUntil, on this machine's clock, which the sidecar shares),
  // it gets nothing: requests are sent up to half a second before the ejection ends.
  const until = ejected[0].ejectedUntil!;
  const hitsEjected = bad.hits();
  let sent = 0;
  while (sent < 30 && Date.now() < until - 500) {
    assert.equal((await getViaProxy(client.outboundPort, `http://flaky/ejected/${sent}`)).status, 200);
    sent++;
  }
  assert.ok(sent >= 5, `only ${sent} requests fit in the ejection: the machine is too slow for this test`);
  assert.equal(bad.hits(), hitsEjected, `none of ${sent} requests reached the ejected instance`);

  // It recovers; once the ejection time has passed it is picked again.
  bad.setFailing(false);
  await waitFor('the instance is readmitted and serves again', async () => {
    const r = await getViaProxy(client.outboundPort, 'http://flaky/after');
    assert.equal(r.status, 200, r.body);
    return JSON.parse(r.body).name === 'c';
  }, 45_000, 50);
  const back = (await endpointStats()).find((s) => s.id === ejected[0].id);
  assert.equal(back?.ejectedUntil, undefined);
  const later = await adminMetrics(client.adminPort);
  assert.equal(metricSample(later, 'weft_proxy_outlier_ejections_active{destination_service="flaky.default"}'), 0);
  assert.equal(metricSample(later, 'weft_proxy_outlier_ejections_total{destination_service="flaky.default",reason="consecutive-5xx"}'), 1);
});
