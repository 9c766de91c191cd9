// The request inspector: a placeholder until the control plane exposes fate records (what
// `weft why` shows: route, filters, attempts, local-reply reason). Nothing here is faked.

import { html } from 'htm/preact';

export function InspectorPage() {
  return html`<section class="page">
    <h1>Request inspector</h1>
    <p data-inspector="unavailable">Not available yet: this control plane does not serve fate records. When it does, this page
      will look a request up by its id (<code>x-request-id</code>) and show what <code>weft why</code> shows: the route and rule,
      the filters' decisions, each attempt with its endpoint and failure kind, and the local-reply reason.</p>
  </section>`;
}
