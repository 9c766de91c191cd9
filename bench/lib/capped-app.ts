// An app with a real capacity for the overload bench: it works on `--capacity` requests at once,
// `--work-ms` each (a timer, not CPU, so it does not compete with the proxies); the rest wait in its
// own FIFO queue, so its latency grows with load as a saturated server's does. Prints its port.
// CLI: node bench/lib/capped-app.ts --capacity 16 --work-ms 50

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

const { values: v } = parseArgs({ options: { capacity: { type: 'string', default: '16' }, 'work-ms': { type: 'string', default: '50' }, port: { type: 'string', default: '0' } } });
const capacity = Number(v.capacity);
const workMs = Number(v['work-ms']);

let active = 0;
const queue: http.ServerResponse[] = [];
/** Responses whose client went away: skipped when their turn comes, so they cost no capacity. */
const gone = new WeakSet<http.ServerResponse>();

function work(res: http.ServerResponse): void {
  active++;
  setTimeout(() => {
    active--;
    if (!gone.has(res)) res.end('done\n');
    let next = queue.shift();
    while (next !== undefined && gone.has(next)) next = queue.shift();
    if (next !== undefined) work(next);
  }, workMs);
}

const server = http.createServer((req, res) => {
  req.resume();
  if (req.url === '/healthz') return void res.end('ok');
  res.once('close', () => gone.add(res));
  if (active < capacity) work(res);
  else queue.push(res);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(v.port), '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'listening', port: (server.address() as AddressInfo).port, capacity, workMs }));
});
