// Test helper: pins a Service to a load-balancing algorithm with a BackendPolicy and waits until the
// given sidecars run it. For tests that check round robin's even spread whatever the default is
// (peak-ewma, a candidate default, follows latency and may keep sequential requests on the fastest instance).

import assert from 'node:assert/strict';
import type { ControlPlaneProcess, SidecarProcess } from './mesh.ts';
import { waitFor } from './processes.ts';

export async function useAlgorithm(cp: ControlPlaneProcess, service: string, algorithm: string, sidecars: readonly SidecarProcess[], namespace = 'default'): Promise<void> {
  const name = `${service}-${algorithm}`;
  const put = await cp.api('PUT', `/v1/resources/backendpolicies/${namespace}/${name}`, {
    apiVersion: 'weft.dev/v1alpha1',
    kind: 'BackendPolicy',
    metadata: { name, namespace },
    spec: { targetRefs: [{ kind: 'Service', name: service }], loadBalancer: { algorithm } },
  });
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  for (const s of sidecars) {
    await waitFor(`sidecar ${s.id} to balance ${service} with ${algorithm}`, async () => {
      const res = await fetch(`http://127.0.0.1:${s.adminPort}/config`);
      const snap = ((await res.json()) as { snapshot?: { services: { name: string; namespace: string; policy: { loadBalancer: { algorithm: string } } }[] } }).snapshot;
      return snap?.services.find((x) => x.name === service && x.namespace === namespace)?.policy.loadBalancer.algorithm === algorithm;
    }, 20_000);
  }
}
