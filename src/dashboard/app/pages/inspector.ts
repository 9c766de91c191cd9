// The request inspector: a placeholder until the control plane exposes fate records (what
// `weft why` shows: route, filters, attempts, local-reply reason). Nothing here is faked.

import { html } from 'htm/preact';

export function InspectorPage() {
  return html`<section class="page">
    <h1>Request inspector</h1>
    <p data-inspector="unavailable">Not available yet. Each sidecar keeps the fates of its recent requests (what
      <code>weft why REQUEST-ID</code> prints: the route and rule, the filters' decisions, each attempt with its endpoint
      and failure kind, the local-reply reason) on its admin listener, which this page cannot reach: it talks only to the
      control plane's API. When the control plane answers for them, this page will look a request up by its
      <code>x-request-id</code> and list the recent failures. Until then, run <code>weft why</code>.</p>
  </section>`;
}
