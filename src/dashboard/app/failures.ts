// The recent failures list the inspector and the service page share: failed requests from the
// sidecars' fate rings (GET /v1/failures), newest first, each linking to its full fate.

import { html } from 'htm/preact';
import type { RecentFailures } from '../../config/fate-view.ts';
import { getJson, NotFoundError, type AuthError } from './api.ts';
import { failureWhy, formatMs, formatTime, requestHref } from './model.ts';
import { usePoll } from './poll.ts';

/** Failures ask every sidecar: refreshed less often than the live views' 2 s (ms). */
export const FAILURES_REFRESH_MS = 5000;

/** The sidecars that could not be asked, in one line (nothing when all answered). */
export function Unreachable(props: { items: RecentFailures['unreachable'] }) {
  if (props.items.length === 0) return null;
  return html`<p class="error small" data-unreachable>Not reachable: ${props.items.map((u) => `${u.proxy} (${u.error})`).join('; ')}</p>`;
}

/**
 * Polls GET /v1/failures (with `query`, e.g. `service=api&namespace=default`) and shows a table; `empty`
 * says what an empty answer means. A control plane without the route says so instead.
 */
export function RecentFailuresTable(props: { query: string; empty: string; onAuthError: (err: AuthError) => void }) {
  const load = async (): Promise<RecentFailures | 'unsupported'> =>
    getJson<RecentFailures>(`/v1/failures${props.query ? `?${props.query}` : ''}`).catch((err: unknown) => {
      if (err instanceof NotFoundError) return 'unsupported' as const;
      throw err;
    });
  const { data, error } = usePoll(`failures:${props.query}`, load, props.onAuthError, FAILURES_REFRESH_MS);
  if (data === undefined) return html`<p class="muted">${error ?? 'Asking the sidecars…'}</p>`;
  if (data === 'unsupported') return html`<p class="muted">This control plane does not serve the sidecars' failures (GET /v1/failures): run <code>weft why</code> against the sidecars.</p>`;
  return html`${error ? html`<p class="error">Refresh failed: ${error}</p>` : null}
    ${data.items.length === 0
      ? html`<p class="muted" data-failures="empty">${props.empty} (${data.asked} sidecar${data.asked === 1 ? '' : 's'} asked).</p>`
      : html`<table class="grid" data-table="failures">
          <thead><tr><th>Time (UTC)</th><th>Request</th><th>Proxy</th><th>From → to</th><th>Request line</th><th>Route</th><th>Status</th><th>Why</th><th>Took</th></tr></thead>
          <tbody>${data.items.map(
            (f) => html`<tr data-failure=${f.requestId}>
              <td class="small">${formatTime(f.time)}</td>
              <td><a href=${requestHref(f.requestId)}>${f.requestId}</a></td>
              <td class="small">${f.proxy} <span class="muted">${f.direction}</span></td>
              <td class="small">${f.source} → ${f.destination}</td>
              <td class="small">${f.method} ${f.path}</td>
              <td class="small">${f.route ? `${f.route} rule ${f.rule ?? '–'}` : '–'}</td>
              <td><span class="badge critical">${f.status || 'none'}</span></td>
              <td data-why>${failureWhy(f)}</td>
              <td class="small">${formatMs(f.durationMs)}</td>
            </tr>`,
          )}</tbody>
        </table>`}
    <${Unreachable} items=${data.unreachable} />`;
}
