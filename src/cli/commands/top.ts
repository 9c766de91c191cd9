// `weft top`: a live terminal view of the busiest services and edges, redrawn from GET /v1/stats
// every couple of seconds (plain ANSI: clear and redraw); q or Ctrl-C quits, --once prints one frame.

import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, parseCommand, str, token, type Command } from '../command.ts';
import { edgesTable, fetchStats, servicesTable, windowArg } from '../stats-view.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import type { StatsSummary } from '../../config/stats-report.ts';

const CLEAR = '\x1b[H\x1b[2J';

/** One frame: the busiest `limit` services and edges (by requests in the window). */
export function topFrame(stats: StatsSummary, limit: number, now = new Date(stats.generatedAt)): string {
  const services = stats.services.slice(0, limit);
  const edges = stats.edges.slice(0, limit);
  let out = `weft top — last ${stats.windowSeconds}s, ${now.toISOString().replace('T', ' ').slice(0, 19)} UTC\n\n`;
  out += services.length === 0 ? 'No traffic measured (sidecars report every few seconds).\n' : servicesTable(services);
  if (edges.length > 0) out += `\n${edgesTable(edges)}`;
  return out;
}

export const topCommand: Command = {
  name: 'top',
  summary: 'Watch the busiest services and edges live (success rate, req/s, latency).',
  usage: `Usage: weft top [--interval SECONDS] [--window SECONDS] [--limit N] [--once]

  --interval SECONDS  redraw every so often (default 2)
  --window SECONDS    how far back the numbers look (default 10)
  --limit N           rows of services and of edges (default 15)
  --once              print one frame and exit (no screen clearing)

Press q or Ctrl-C to quit. Needs a read-only token.`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, interval: { type: 'string' }, window: { type: 'string' }, limit: { type: 'string' }, once: { type: 'boolean' } });
    if (!p) return 0;
    const whole = (name: string, fallback: number, max: number): number => {
      const v = str(p, name);
      if (v === undefined) return fallback;
      if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > max) throw new WeftError('WEFT_ERR_CLI_USAGE', `--${name} must be a whole number from 1 to ${max}, got ${JSON.stringify(v)}`, 2);
      return Number(v);
    };
    const intervalMs = whole('interval', 2, 3600) * 1000;
    const limit = whole('limit', 15, 1000);
    const windowSeconds = windowArg(str(p, 'window')) ?? 10;
    const api = new ApiClient(controlUrl(p), token(p));
    if (p.values.once === true) {
      process.stdout.write(topFrame(await fetchStats(api, windowSeconds), limit));
      return 0;
    }
    // The first fetch fails loudly (wrong URL or token); later ones show their error and keep trying.
    let frame = topFrame(await fetchStats(api, windowSeconds), limit);
    return new Promise<number>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      let stopped = false;
      const stdin = process.stdin;
      const quit = (): void => {
        if (stopped) return;
        stopped = true;
        clearTimeout(timer);
        if (stdin.isTTY) stdin.setRawMode(false);
        stdin.pause();
        process.stdout.write('\n');
        resolve(0);
      };
      const draw = (): void => {
        if (stopped) return;
        process.stdout.write(CLEAR + frame + '\n(q to quit)\n');
        timer = setTimeout(() => {
          fetchStats(api, windowSeconds).then(
            (stats) => (frame = topFrame(stats, limit)),
            (err) => (frame = `${frame.split('\n\n')[0]}\n\ncannot read /v1/stats: ${errorMessage(err)}\n`),
          ).finally(draw);
        }, intervalMs);
      };
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.on('data', (key: Buffer) => {
        const k = key.toString();
        if (k === 'q' || k === 'Q' || k === '\u0003') quit();
      });
      stdin.resume();
      process.once('SIGINT', quit);
      process.once('SIGTERM', quit);
      draw();
    });
  },
};
