// Entry point of a data-plane worker thread: one more data plane on the sidecar's ports
// (SO_REUSEPORT), running the snapshots the main thread validated and forwards.

import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../../lib/errors.ts';
import { startDataPlane, type DataPlaneOptions } from '../data-plane.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { fateView } from '../observe/fate.ts';
import { Tap } from '../observe/tap.ts';

/** How often a relay reports the events it dropped (the admin stream's own dropped lines are as frequent). */
const TAP_DROPPED_EVERY_MS = 1_000;

const port = parentPort;
if (!port) throw new Error('data-plane-worker.ts runs as a worker thread, started by the sidecar');
const send = (m: FromWorker): void => port.postMessage(m);

const plane = await startDataPlane(workerData as DataPlaneOptions);
// This thread's side of each tap the main thread opened: filtered and limited here, so a busy worker
// posts at most maxRps events a second; the main thread's bucket bounds the sidecar's total.
const relays = new Map<number, { tap: Tap; timer: NodeJS.Timeout }>();
const closeRelay = (id: number): void => {
  const r = relays.get(id);
  if (r === undefined) return;
  relays.delete(id);
  clearInterval(r.timer);
  plane.observer.taps.remove(r.tap);
};
port.on('message', (m: ToWorker) => {
  if (m.type === 'snapshot') {
    try {
      plane.apply(m.snapshot);
    } catch (err) {
      // The main thread accepted this snapshot with the same code; say so rather than diverge quietly.
      send({ type: 'apply-failed', version: m.snapshot.version, message: errorMessage(err) });
    }
  } else if (m.type === 'credentials') {
    plane.setCredentials(m.credentials);
  } else if (m.type === 'metrics') {
    send({ type: 'metrics', id: m.id, dump: plane.metrics.registry.dump() });
  } else if (m.type === 'fates') {
    const q = m.query;
    const fates = plane.observer.fates;
    const found = 'requestId' in q ? fates.find(q.requestId) : (q.failedOnly ? fates.failedRing : fates.recentRing).recent(q.limit);
    send({ type: 'fates', id: m.id, items: found.map((f) => fateView(f, plane.observer.proxyId)) });
  } else if (m.type === 'tap-open') {
    closeRelay(m.tap);
    const tap = new Tap(m.query, Date.now, (event) => {
      send({ type: 'tap-event', tap: m.tap, event });
      return true;
    });
    const timer = setInterval(() => {
      const dropped = tap.takeDropped();
      if (dropped > 0) send({ type: 'tap-dropped', tap: m.tap, dropped });
    }, TAP_DROPPED_EVERY_MS);
    timer.unref();
    relays.set(m.tap, { tap, timer });
    plane.observer.taps.add(tap);
  } else if (m.type === 'tap-close') {
    closeRelay(m.tap);
  } else if (m.type === 'close') {
    for (const id of [...relays.keys()]) closeRelay(id);
    void plane.close().finally(() => {
      plane.destroy();
      send({ type: 'closed' });
      port.close();
    });
  }
});
send({ type: 'ready', outboundPort: plane.outboundPort, inboundPort: plane.inboundPort });
