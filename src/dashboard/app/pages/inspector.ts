// The request inspector (#/inspector, #/requests/ID): a request's fate as every sidecar that carried
// it tells it (GET /v1/requests/{id}, what `weft why` prints: route and rule, the filters' decisions,
// each attempt, the local reply's reason), and below it the mesh's recent failures, each a link here.

import { html } from 'htm/preact';
import { FAILED_FATES, RECENT_FATES, type FateView, type RequestFates } from '../../../config/fate-view.ts';
import { getJson, NotFoundError, type AuthError } from '../api.ts';
import { RecentFailuresTable, Unreachable } from '../failures.ts';
import { attemptOutcome, formatMs, formatTime, requestHref } from '../model.ts';
import { usePoll } from '../poll.ts';

type Lookup = { readonly found: RequestFates } | { readonly notFound: string };

function LookupForm(props: { requestId: string | undefined }) {
  const submit = (ev: Event): void => {
    ev.preventDefault();
    const input = (ev.currentTarget as HTMLFormElement).elements.namedItem('requestId') as HTMLInputElement;
    const id = input.value.trim();
    if (id) location.hash = requestHref(id);
  };
  return html`<form class="lookup" onSubmit=${submit} data-lookup>
    <input name="requestId" value=${props.requestId ?? ''} placeholder="x-request-id" aria-label="request id" autocomplete="off" />
    <button type="submit">Look up</button>
  </form>`;
}

/** One hop: which proxy, which way, what it decided, each attempt, and its own reply if it made one. */
function Hop(props: { fate: FateView; index: number }) {
  const f = props.fate;
  return html`<article class=${`hop ${f.status >= 500 || f.status === 0 || f.reason !== undefined ? 'failed' : 'ok'}`} data-hop=${`${f.proxy}/${f.direction}`}>
    <h3>${props.index + 1}. ${f.proxy} <span class="muted">${f.direction}</span> ${f.source.service} → ${f.destination.service}</h3>
    <p><code>${f.method} ${f.authority}${f.path}</code> → <b data-status>${f.inFlight ? 'in flight' : f.status}</b>${f.reason ? html` <span class="badge critical" data-reason>${f.reason}</span>` : null}${` in ${formatMs(f.durationMs)} `}<span class="muted small">at ${formatTime(f.time)} UTC</span></p>
    <dl class="facts">
      <dt>Route</dt><dd data-route>${f.route ? `${f.route}, rule ${f.rule ?? '–'}` : f.direction === 'outbound' && f.destination.service !== 'unknown' ? "none attached: the Service's own endpoints" : '–'}</dd>
      ${f.source.identity || f.destination.identity ? html`<dt>Identities</dt><dd>${f.source.identity ?? 'plaintext caller'} → ${f.destination.identity ?? '–'}</dd>` : null}
      ${f.traceId ? html`<dt>Trace</dt><dd><code>${f.traceId}</code> span <code>${f.spanId ?? '–'}</code>${f.sampled ? ' (sampled)' : ''}</dd>` : null}
      ${f.filters.length ? html`<dt>Filters</dt><dd>${f.filters.join(' → ')}</dd>` : null}
      ${f.decisions.length ? html`<dt>Decisions</dt><dd><ul class="decisions">${f.decisions.map((d) => html`<li data-decision>${d}</li>`)}</ul></dd>` : null}
    </dl>
    ${f.attempts.length === 0
      ? html`<p class="muted small" data-attempts="none">${f.direction === 'outbound' && f.reason ? 'No endpoint was tried.' : 'No attempt recorded.'}</p>`
      : html`<table class="grid attempts" data-table="attempts">
          <thead><tr><th>#</th><th>Endpoint</th><th>Outcome</th><th>Started</th><th>Took</th></tr></thead>
          <tbody>${f.attempts.map(
            (a, i) => html`<tr data-attempt=${i + 1} class=${a.failure || a.status >= 500 || a.status === 0 ? 'failed' : ''}>
              <td>${i + 1}</td><td>${a.endpoint}${a.identity ? html` <span class="muted small">${a.identity}</span>` : null}</td>
              <td>${attemptOutcome(a)}</td><td class="small">+${formatMs(a.startMs)}</td><td>${formatMs(a.durationMs)}</td>
            </tr>`,
          )}</tbody>
        </table>`}
    ${f.reason ? html`<p data-local-reply><b>Local reply:</b> ${f.status} <code>${f.reason}</code>${f.message ? ` — ${f.message}` : ''}</p>` : null}
  </article>`;
}

function RequestFate(props: { requestId: string; onAuthError: (err: AuthError) => void }) {
  const load = async (): Promise<Lookup> => {
    try {
      return { found: await getJson<RequestFates>(`/v1/requests/${encodeURIComponent(props.requestId)}`) };
    } catch (err) {
      if (err instanceof NotFoundError) return { notFound: err.message };
      throw err;
    }
  };
  // Asked once: a fate does not change once the request has ended (look it up again to refresh).
  const { data, error } = usePoll(`request:${props.requestId}`, load, props.onAuthError, 0);
  if (data === undefined) return html`<p class="muted">${error ?? 'Asking the sidecars…'}</p>`;
  if ('notFound' in data) {
    const unsupported = data.notFound.startsWith('WEFT_ERR_API_NOT_FOUND');
    return html`<p class="muted" data-inspector="not-found">${unsupported
      ? 'This control plane does not look requests up (GET /v1/requests): run weft why REQUEST-ID against the sidecars.'
      : data.notFound.replace(/^WEFT_ERR_API_REQUEST_NOT_FOUND: /, '')}</p>`;
  }
  const { items, unreachable } = data.found;
  return html`<div data-inspector="found" data-request=${props.requestId}>
    <p class="muted">${items.length} hop${items.length === 1 ? '' : 's'}, in the order they began, from ${data.found.asked} sidecar${data.found.asked === 1 ? '' : 's'} asked.</p>
    ${items.map((f, i) => html`<${Hop} key=${`${f.proxy}/${f.direction}/${i}`} fate=${f} index=${i} />`)}
    <${Unreachable} items=${unreachable} />
  </div>`;
}

export function InspectorPage(props: { requestId: string | undefined; onAuthError: (err: AuthError) => void }) {
  return html`<section class="page">
    <h1>Request inspector</h1>
    <p class="muted small">The fate of a recent request by its <code>x-request-id</code>, as the sidecars that carried it tell it
      (what <code>weft why</code> prints). Each sidecar keeps its last ${RECENT_FATES} requests and its last ${FAILED_FATES} failures.</p>
    <${LookupForm} requestId=${props.requestId} />
    ${props.requestId ? html`<${RequestFate} key=${props.requestId} requestId=${props.requestId} onAuthError=${props.onAuthError} />` : null}
    <h2>Recent failures</h2>
    <${RecentFailuresTable} query="" empty="No failures in the sidecars' recent records" onAuthError=${props.onAuthError} />
  </section>`;
}
