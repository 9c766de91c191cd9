// The proxies page: every proxy the control plane knows, whether its stream is up, and the config
// version it acknowledged against the current one (from /v1/proxies every 2 s).

import { html } from 'htm/preact';
import { getJson, type AuthError } from '../api.ts';
import { usePoll } from '../poll.ts';

interface ProxyStatus {
  readonly id: string;
  readonly service: string;
  readonly namespace: string;
  readonly connected: boolean;
  readonly currentVersion?: string | number;
  readonly ackedVersion?: string | number;
  readonly nackedVersion?: string | number;
  readonly nackErrors?: readonly { readonly path?: string; readonly message?: string }[] | readonly string[];
  readonly inSync: boolean;
  readonly certificate?: { readonly identity: string; readonly notAfter: string };
}

export function ProxiesPage(props: { onAuthError: (err: AuthError) => void }) {
  const { data, error } = usePoll('proxies', () => getJson<{ items: ProxyStatus[] }>('/v1/proxies'), props.onAuthError);
  if (!data) return html`<section class="page"><h1>Proxies</h1><p class="muted">${error ?? 'Loading…'}</p></section>`;
  return html`<section class="page">
    <h1>Proxies</h1>
    ${error ? html`<p class="error">Refresh failed: ${error}</p>` : null}
    <table class="grid" data-table="proxies">
      <thead><tr><th>Proxy</th><th>Service</th><th>Stream</th><th>Acknowledged</th><th>Current</th><th>In sync</th><th>Rejected (NACK)</th><th>Certificate until</th></tr></thead>
      <tbody>${data.items.map(
        (p) => html`<tr data-proxy=${p.id}>
          <td>${p.id}</td><td>${p.service}.${p.namespace}</td>
          <td><span class=${`badge ${p.connected ? 'passing' : 'critical'}`}>${p.connected ? 'connected' : 'gone'}</span></td>
          <td data-acked>${p.ackedVersion ?? '–'}</td><td>${p.currentVersion ?? '–'}</td>
          <td>${p.inSync ? 'yes' : 'no'}</td>
          <td class="small">${p.nackedVersion === undefined ? '–' : `v${p.nackedVersion}: ${(p.nackErrors ?? []).map((e) => (typeof e === 'string' ? e : `${e.path ?? ''} ${e.message ?? ''}`)).join('; ')}`}</td>
          <td class="small">${p.certificate?.notAfter ?? '–'}</td>
        </tr>`,
      )}</tbody>
    </table>
  </section>`;
}
