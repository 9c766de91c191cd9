// Places the topology graph with dagre (layered, left to right: callers left of what they call), so
// the SVG in topology.ts only draws boxes and polylines at the coordinates given here.

import { Graph, layout } from '@dagrejs/dagre';
import type { Graph as TopologyGraph } from './model.ts';

/** Node box size in CSS pixels. */
export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 64;

export interface PlacedNode {
  readonly id: string;
  /** Centre of the box. */
  readonly x: number;
  readonly y: number;
}

export interface PlacedEdge {
  readonly id: string;
  readonly points: readonly { readonly x: number; readonly y: number }[];
  /** Where the label goes (the middle of the edge). */
  readonly labelX: number;
  readonly labelY: number;
}

export interface Placement {
  readonly width: number;
  readonly height: number;
  readonly nodes: ReadonlyMap<string, PlacedNode>;
  readonly edges: ReadonlyMap<string, PlacedEdge>;
}

/** Lays out nodes and edges (dagre's network-simplex ranking, 80 px between ranks). */
export function place(graph: TopologyGraph): Placement {
  const g = new Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 40, ranksep: 170, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  // The label is given a size so that dagre keeps room for it between the ranks.
  for (const e of graph.edges) g.setEdge(e.source, e.destination, { width: 150, height: 18, labelpos: 'c' });
  layout(g);
  const nodes = new Map<string, PlacedNode>();
  for (const id of g.nodes()) {
    const n = g.node(id);
    nodes.set(id, { id, x: n.x, y: n.y });
  }
  const edges = new Map<string, PlacedEdge>();
  for (const e of graph.edges) {
    const placed = g.edge(e.source, e.destination);
    const points = (placed?.points ?? []).map((p: { x: number; y: number }) => ({ x: p.x, y: p.y }));
    const mid = points[Math.floor(points.length / 2)] ?? { x: 0, y: 0 };
    edges.set(e.id, { id: e.id, points, labelX: placed?.x ?? mid.x, labelY: placed?.y ?? mid.y });
  }
  const label = g.graph();
  return { width: Math.max(label.width ?? 0, 200), height: Math.max(label.height ?? 0, 100), nodes, edges };
}
