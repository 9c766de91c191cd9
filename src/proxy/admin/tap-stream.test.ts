import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { systemClock } from '../../lib/clock.ts';
import { FateRecord } from '../observe/fate.ts';
import { TapHub } from '../observe/tap.ts';
import { TapSessions } from '../observe/tap-sessions.ts';
import { startAdminServer } from './admin-server.ts';

const fate = (path: string): FateRecord => {
  const f = new FateRecord('inbound', `id-${path}`, performance.now(), 'GET', 'reviews', path, 'catalog.default');
  f.status = 200;
  f.endedAt = f.startedAt + 2;
  return f;
};

async function admin(max?: number) {
  const hub = new TapHub('p1');
  const sessions = new TapSessions({ hub, clock: systemClock, max });
  const server = await startAdminServer('127.0.0.1', 0, { ready: () => ({ ready: true }), metrics: () => '', config: () => ({}), tap: { sessions, proxy: 'p1', droppedEveryMs: 5 } });
  return { hub, sessions, server };
}

/** Opens GET /tap and resolves once its headers are in; `lines` fills as lines arrive. */
function openTap(port: number, query = ''): Promise<{ res: http.IncomingMessage; req: http.ClientRequest; lines: string[]; ended: Promise<unknown>; next(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/tap${query}`, agent: false }, (res) => {
      const lines: string[] = [];
      const ended = once(res, 'end').catch(() => undefined); // a reader that hangs up aborts the response
      let partial = '';
      const waiters: (() => void)[] = [];
      res.setEncoding('utf8').on('data', (c: string) => {
        const parts = (partial + c).split('\n');
        partial = parts.pop()!;
        lines.push(...parts);
        for (const w of waiters.splice(0)) w();
      });
      let read = 0;
      const next = async (): Promise<string> => {
        while (lines.length <= read) await new Promise<void>((r) => waiters.push(r));
        return lines[read++];
      };
      resolve({ res, req, lines, ended, next });
    });
    req.on('error', reject);
  });
}

/** Resolves once `probe` holds, checking on each turn of the event loop (no timed sleep). */
async function until(probe: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000 && !probe(); i++) await new Promise((r) => setImmediate(r));
  assert.ok(probe());
}

test('GET /tap streams one NDJSON line per request the tap shows, and detaches when the reader goes', async () => {
  const { hub, sessions, server } = await admin();
  try {
    const t = await openTap(server.port, '?pathPrefix=/keep');
    assert.equal(t.res.statusCode, 200);
    assert.equal(t.res.headers['content-type'], 'application/x-ndjson');
    assert.equal(hub.active, true);
    hub.publish(fate('/skip'));
    hub.publish(fate('/keep/1'));
    hub.publish(fate('/keep/2'));
    const first = JSON.parse(await t.next());
    const second = JSON.parse(await t.next());
    assert.deepEqual([first.type, first.proxy, first.path, first.status, first.direction], ['request', 'p1', '/keep/1', 200, 'inbound']);
    assert.equal(second.path, '/keep/2');
    t.req.destroy();
    await until(() => sessions.size === 0);
    assert.equal(hub.active, false);
  } finally {
    await server.close();
  }
});

test('drops are reported in a dropped line; a bad query is a 400 naming the parameter; the cap is a 429', async () => {
  const { hub, server } = await admin(1);
  try {
    const bad = await openTap(server.port, '?maxRps=0&direction=up');
    assert.equal(bad.res.statusCode, 400);
    await bad.ended;
    const body = JSON.parse(bad.lines.join('\n'));
    assert.equal(body.error.code, 'WEFT_ERR_TAP_INVALID_QUERY');
    assert.deepEqual(body.error.details.map((d: { path: string }) => d.path), ['maxRps', 'direction']);
    const t = await openTap(server.port, '?maxRps=1');
    const full = await openTap(server.port);
    assert.equal(full.res.statusCode, 429);
    for (let i = 0; i < 4; i++) hub.publish(fate(`/r${i}`));
    assert.equal(JSON.parse(await t.next()).path, '/r0');
    // At the next report: the three over the rate, counted.
    assert.deepEqual(JSON.parse(await t.next()), { type: 'dropped', proxy: 'p1', dropped: 3 });
    t.req.destroy();
  } finally {
    await server.close();
  }
});
