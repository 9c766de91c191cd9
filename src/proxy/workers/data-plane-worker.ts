// Entry point of a data-plane worker thread: one more data plane on the sidecar's ports
// (SO_REUSEPORT), running the snapshots the main thread validated and forwards.

import { parentPort, workerData } from 'node:worker_threads';
import { errorMessage } from '../../lib/errors.ts';
import { startDataPlane, type DataPlaneOptions } from '../data-plane.ts';
import type { FromWorker, ToWorker } from './messages.ts';
import { fateView } from '../observe/fate.ts';

const port = parentPort;
if (!port) throw new Error('data-plane-worker.ts runs as a worker thread, started by the sidecar');
const send = (m: FromWorker): void => port.postMessage(m);

const plane = await startDataPlane(workerData as DataPlaneOptions);
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
  } else if (m.type === 'close') {
    void plane.close().finally(() => {
      plane.destroy();
      send({ type: 'closed' });
      port.close();
    });
  }
});
send({ type: 'ready', outboundPort: plane.outboundPort, inboundPort: plane.inboundPort });
