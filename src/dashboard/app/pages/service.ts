// A service's page: its instances (health, zone, address), the routes and policies attached to it,
// its traffic by caller with the failures counted per edge (from /v1/stats when present), and its
// recent failed requests with their reasons (GET /v1/failures, from the sidecars' fate rings).

import { html } from 'htm/preact';
import { getJson, NotFoundError, type AuthError } from '../api.ts';
import { RecentFailuresTable } from '../failures.ts';
import { edgeLabel, formatMs, formatRate, formatRps, resourcesFor, serviceId, ZONE_LABEL, type ApiResource, type StatsResponse } from '../model.ts';
import { usePoll } from '../poll.ts';

interface Instance {
  readonly id: string;
  readonly address: string;
  readonly ports: readonly { readonly port: number; readonly name?: string }[];
  readonly health: string;
  /** Why the instance is in its health state (e.g. `ttl expired 3.2s ago`). */
  readonly healthReason?: string;
  readonly labels?: Record<string, string>;
  readonly checkResults?: readonly { readonly status: string; readonly output: string; readonly checkedBy: string }[];
  readonly identityStatus?: string;
}

interface ServiceData {
  readonly instances: readonly Instance[];
  readonly routes: readonly ApiResource[];
  readonly policies: readonly ApiResource[];
  readonly stats: StatsResponse | undefined;
}

function loader(namespace: string, name: string) {
  return async (): Promise<ServiceData> => {
    const q = `service=${encodeURIComponent(name)}&namespace=${encodeURIComponent(namespace)}`;
    const [instances, resources, stats] = await Promise.all([
      getJson<{ items: Instance[] }>(`/v1/catalog/instances?${q}`),
      getJson<{ items: ApiResource[] }>(`/v1/resources?namespace=${encodeURIComponent(namespace)}`),
      getJson<StatsResponse>('/v1/stats').catch((err: unknown) => {
        if (err instanceof NotFoundError) return undefined;
        throw err;
      }),
    ]);
    return { instances: instances.items, ...resourcesFor(resources.items, name, namespace), stats };
  };
}

function ResourceList(props: { title: string; items: readonly ApiResource[]; empty: string }) {
  return html`<h2>${props.title}</h2>
    ${props.items.length === 0
      ? html`<p class="muted">${props.empty}</p>`
      : html`<ul class="resources">${props.items.map(
          (r) => html`<li data-resource=${`${r.kind}/${r.metadata.name}`}><b>${r.kind}</b> ${r.metadata.namespace}/${r.metadata.name} <span class="muted">v${r.metadata.resourceVersion ?? '?'}</span>
            <details><summary>spec</summary><pre>${JSON.stringify(r.spec, null, 2)}</pre></details></li>`,
        )}</ul>`}`;
}

export function ServicePage(props: { namespace: string; name: string; onAuthError: (err: AuthError) => void }) {
  const { namespace, name } = props;
  const id = serviceId(name, namespace);
  const { data, error } = usePoll(`service:${id}`, loader(namespace, name), props.onAuthError);
  if (!data) return html`<section class="page"><h1>${name} <span class="muted">${namespace}</span></h1><p class="muted">${error ?? 'Loading…'}</p></section>`;
  const own = data.stats?.services.find((s) => s.service === id);
  const inbound = data.stats?.edges.filter((e) => e.destination === id) ?? [];
  const outbound = data.stats?.edges.filter((e) => e.source === id) ?? [];
  return html`<section class="page" data-service=${id}>
    <h1>${name} <span class="muted">${namespace}</span></h1>
    ${error ? html`<p class="error">Refresh failed: ${error}</p>` : null}
    ${own
      ? html`<p>${formatRps(own.rps)} · ${formatRate(own.successRate, own.requests)} success · p50 ${formatMs(own.latencyMs?.p50)} · p95 ${formatMs(own.latencyMs?.p95)} · p99 ${formatMs(own.latencyMs?.p99)} · ${own.proxies} proxies reporting</p>`
      : html`<p class="muted">No traffic statistics for this service${data.stats ? ' in the window' : ' (this control plane has no /v1/stats)'}.</p>`}
    <h2>Instances</h2>
    <table class="grid" data-table="instances">
      <thead><tr><th>Instance</th><th>Address, ports</th><th>Health</th><th>Zone</th><th>Identity</th><th>Checks</th></tr></thead>
      <tbody>${data.instances.map(
        (i) => html`<tr data-instance=${i.id}>
          <td>${i.id}</td><td>${i.address} ${i.ports.map((p) => p.port).join(', ')}</td>
          <td><span class=${`badge ${i.health}`}>${i.health}</span> <span class="small muted">${i.healthReason ?? ''}</span></td>
          <td>${i.labels?.[ZONE_LABEL] ?? '–'}</td>
          <td>${i.identityStatus ?? '–'}</td>
          <td class="small">${(i.checkResults ?? []).map((c) => `${c.checkedBy}: ${c.status}${c.output ? ` (${c.output})` : ''}`).join('; ') || '–'}</td>
        </tr>`,
      )}</tbody>
    </table>
    <${ResourceList} title="Routes" items=${data.routes} empty="No route attached (parentRefs) to this service: requests go to the service's own endpoints." />
    <${ResourceList} title="Policies" items=${data.policies} empty="No policy targets this service (targetRefs): defaults apply." />
    <h2>Traffic</h2>
    ${inbound.length + outbound.length === 0
      ? html`<p class="muted">No calls in the window.</p>`
      : html`<table class="grid" data-table="edges">
          <thead><tr><th>From</th><th>To</th><th>Requests</th><th>Failed</th><th>Signals</th></tr></thead>
          <tbody>${[...inbound, ...outbound].map((e) => html`<tr><td>${e.source}</td><td>${e.destination}</td><td>${e.requests}</td><td>${e.requests - e.successes}</td><td>${edgeLabel(e)}</td></tr>`)}</tbody>
        </table>`}
    <h2>Recent failures</h2>
    <${RecentFailuresTable}
      query=${`service=${encodeURIComponent(name)}&namespace=${encodeURIComponent(namespace)}&limit=20`}
      empty=${`No failed request to or from ${id} in the sidecars' recent records`}
      onAuthError=${props.onAuthError} />
  </section>`;
}
