// The live topology page: services as boxes, calls between them as arrows labelled with the
// edge's req/s, success rate and p99, from /v1/catalog/services and /v1/stats every 2 s.

import { html } from 'htm/preact';
import { getJson, NotFoundError, type AuthError } from '../api.ts';
import { buildGraph, edgeLabel, formatRate, formatRps, healthClass, type CatalogService, type Graph, type StatsResponse } from '../model.ts';
import { NODE_HEIGHT, NODE_WIDTH, place } from '../layout.ts';
import { usePoll } from '../poll.ts';

interface TopologyData {
  readonly graph: Graph;
  /** Undefined when this control plane has no /v1/stats. */
  readonly stats: StatsResponse | undefined;
}

async function loadTopology(): Promise<TopologyData> {
  const [services, stats] = await Promise.all([
    getJson<{ items: CatalogService[] }>('/v1/catalog/services'),
    getJson<StatsResponse>('/v1/stats').catch((err: unknown) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }),
  ]);
  return { graph: buildGraph(services.items, stats), stats };
}

export function TopologyPage(props: { onAuthError: (err: AuthError) => void }) {
  const { data, error, updates } = usePoll('topology', loadTopology, props.onAuthError);
  if (!data) return html`<section class="page"><h1>Topology</h1><p class="muted">${error ?? 'Loading…'}</p></section>`;
  const { graph, stats } = data;
  const placed = place(graph);
  return html`<section class="page">
    <h1>Topology</h1>
    <p class="muted" data-updates=${updates} data-generated-at=${stats?.generatedAt ?? ''}>
      ${stats ? `Last ${stats.windowSeconds} s, refreshed every 2 s (${new Date(stats.generatedAt).toLocaleTimeString()}).` : 'No traffic statistics on this control plane (GET /v1/stats answered 404): services only.'}
      ${error ? html` <span class="error">Refresh failed: ${error}</span>` : null}
    </p>
    ${graph.nodes.length === 0
      ? html`<p>No services registered yet.</p>`
      : html`<svg class="topology" width=${placed.width} height=${placed.height} viewBox=${`0 0 ${placed.width} ${placed.height}`} role="img" aria-label="service topology">
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="arrowhead" />
            </marker>
          </defs>
          ${graph.edges.map((e) => {
            const p = placed.edges.get(e.id);
            if (!p || p.points.length === 0) return null;
            const d = p.points.map((pt, i) => `${i === 0 ? 'M' : 'L'} ${pt.x.toFixed(1)} ${pt.y.toFixed(1)}`).join(' ');
            return html`<g class=${`edge ${healthClass(e.stats)}`} data-edge=${e.id} data-requests=${e.stats.requests} data-rps=${e.stats.rps} data-success-rate=${e.stats.successRate} data-p99=${e.stats.latencyMs?.p99 ?? ''}>
              <path d=${d} marker-end="url(#arrow)" />
              <text x=${p.labelX} y=${p.labelY - 7} text-anchor="middle" class="edge-label">${edgeLabel(e.stats)}</text>
            </g>`;
          })}
          ${graph.nodes.map((n) => {
            const p = placed.nodes.get(n.id);
            if (!p) return null;
            const x = p.x - NODE_WIDTH / 2;
            const y = p.y - NODE_HEIGHT / 2;
            const outside = n.namespace === '';
            const counts = outside ? 'outside the mesh' : n.instances === undefined ? 'not in the catalog' : `${n.passing}/${n.instances} passing`;
            return html`<a href=${outside ? undefined : `#/service/${encodeURIComponent(n.namespace)}/${encodeURIComponent(n.name)}`} data-node=${n.id}>
              <g class=${`node ${healthClass(n.stats)}`}>
                <rect x=${x} y=${y} width=${NODE_WIDTH} height=${NODE_HEIGHT} rx="8" />
                <text x=${p.x} y=${y + 22} text-anchor="middle" class="node-name">${n.name}</text>
                <text x=${p.x} y=${y + 40} text-anchor="middle" class="node-sub">${outside ? counts : `${n.namespace} · ${counts}`}</text>
                <text x=${p.x} y=${y + 56} text-anchor="middle" class="node-sub">${n.stats ? `${formatRps(n.stats.rps)} · ${formatRate(n.stats.successRate, n.stats.requests)}` : ''}</text>
              </g>
            </a>`;
          })}
        </svg>`}
  </section>`;
}
