// A hand-written SVG bar chart of a run: throughput as a ratio to nginx (left; the mesh-path rows to
// the nginx mTLS mesh) and p99 added over direct at the fixed rate (right), one row per contender,
// weft's rows highlighted.

import type { Summary } from './stats.ts';

/** One-hop rows against nginx, mesh-path rows against the nginx mesh (as in their tables). */
const ratioOf = (r: Summary): number => (r.group === 'mesh' ? (r.ratios?.['nginx-mesh']?.all ?? NaN) : r.rpsRatioToNginx);

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderChart(rows: readonly Summary[], title: string): string {
  const labelW = 520;
  const panelW = 280;
  const gap = 40;
  const rowH = 30;
  const top = 70;
  const width = labelW + panelW * 2 + gap + 60;
  const height = top + rows.length * rowH + 40;
  const maxRatio = Math.max(1, ...rows.map((r) => (Number.isFinite(ratioOf(r)) ? ratioOf(r) : 0)));
  const maxAdded = Math.max(0.1, ...rows.map((r) => (Number.isFinite(r.addedP99Ms) ? r.addedP99Ms : 0)));
  const x1 = labelW;
  const x2 = labelW + panelW + gap;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="12" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${x1}" y="${top - 14}" font-weight="bold">Throughput ÷ nginx; mesh rows ÷ nginx mesh (higher is better)</text>`,
    `<text x="${x2}" y="${top - 14}" font-weight="bold">Added p99 over direct, ms (lower is better)</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const weft = r.id.startsWith('weft');
    const fill = weft ? '#e8743b' : '#5b8ff9';
    out.push(`<text x="${labelW - 10}" y="${y + 19}" text-anchor="end"${weft ? ' font-weight="bold"' : ''}>${esc(r.label)}</text>`);
    const ratio = Number.isFinite(ratioOf(r)) ? ratioOf(r) : 0;
    const w1 = (ratio / maxRatio) * (panelW - 50);
    out.push(`<rect x="${x1}" y="${y + 6}" width="${w1.toFixed(1)}" height="${rowH - 12}" fill="${fill}"/>`);
    out.push(`<text x="${(x1 + w1 + 5).toFixed(1)}" y="${y + 19}">${Number.isFinite(ratioOf(r)) ? `${ratioOf(r).toFixed(2)}×` : 'n/a'}</text>`);
    if (r.id !== 'direct') {
      const added = Number.isFinite(r.addedP99Ms) ? Math.max(0, r.addedP99Ms) : 0;
      const w2 = (added / maxAdded) * (panelW - 70);
      out.push(`<rect x="${x2}" y="${y + 6}" width="${w2.toFixed(1)}" height="${rowH - 12}" fill="${fill}"/>`);
      out.push(`<text x="${(x2 + w2 + 5).toFixed(1)}" y="${y + 19}">${Number.isFinite(r.addedP99Ms) ? `${r.addedP99Ms.toFixed(2)} ms` : 'n/a'}</text>`);
    } else {
      out.push(`<text x="${x2}" y="${y + 19}" fill="#777">baseline (p99 ${r.p99Ms.toFixed(2)} ms)</text>`);
    }
  });
  const lineX = x1 + (1 / maxRatio) * (panelW - 50);
  out.push(`<line x1="${lineX.toFixed(1)}" y1="${top}" x2="${lineX.toFixed(1)}" y2="${top + rows.length * rowH}" stroke="#333" stroke-dasharray="4 3"/>`);
  out.push(`<text x="${lineX.toFixed(1)}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#333">nginx = 1</text>`);
  out.push(`<line x1="${x2}" y1="${top}" x2="${x2}" y2="${top + rows.length * rowH}" stroke="#333"/>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
