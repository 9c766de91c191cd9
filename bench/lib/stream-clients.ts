// Simulated proxies for the control-plane bench (a child process): each speaks the NDJSON stream
// protocol of src/config/stream-protocol.ts — hello, an ACK per snapshot or delta, reconnect with
// jitter — and reports each version it got over IPC. Snapshot lines can be megabytes: only their heads
// are kept, so a delta's base is checked against the last version ACKed but its content is not applied.

import http from 'node:http';
import { WEFT_VERSION } from '../../src/config/version.ts';
import { STREAM_PATH } from '../../src/config/stream-protocol.ts';

export interface SimulatedProxy {
  readonly id: string;
  readonly service: string;
  readonly upstreams: readonly string[];
}

/** `token`: the bench's admin token (simulated proxies stream as an admin: they hold no certificates). */
export type ParentMessage = { cmd: 'start'; controlUrl: string; token: string; proxies: SimulatedProxy[] } | { cmd: 'stop' };
export type ChildMessage =
  | { ev: 'snapshot'; id: string; kind: 'snapshot' | 'delta'; version: string; bytes: number; at: number }
  | { ev: 'error'; id: string; message: string };


const now = (): number => performance.timeOrigin + performance.now();
const HEAD = 256;
const requests = new Set<http.ClientRequest>();
let stopping = false;
const send = (m: ChildMessage): void => void process.send?.(m);

function connect(controlUrl: string, token: string, p: SimulatedProxy): void {
  const url = new URL(STREAM_PATH, controlUrl);
  const req = http.request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent: false, headers: { 'content-type': 'application/x-ndjson', authorization: `Bearer ${token}` } });
  requests.add(req);
  let gone = false;
  // A dropped stream is reported, then reopened after 200–1000 ms, as weft's stream client does.
  const lost = (why: string): void => {
    if (gone) return;
    gone = true;
    requests.delete(req);
    if (stopping) return;
    send({ ev: 'error', id: p.id, message: why });
    setTimeout(() => connect(controlUrl, token, p), 200 + Math.random() * 800);
  };
  req.setNoDelay(true);
  req.write(JSON.stringify({ type: 'hello', node: { id: p.id, service: p.service, namespace: 'default', labels: { app: p.service }, upstreams: p.upstreams, weftVersion: WEFT_VERSION } }) + '\n');
  // What a real proxy would hold on this stream: a delta applies only on top of exactly that.
  let holds: string | undefined;
  const onLine = (line: string, size: number): void => {
    // Pings keep the stream alive; a trust line (the CA bundle, see docs/concepts/security.md) carries no version.
    if (line.startsWith('{"type":"ping"') || line.startsWith('{"type":"trust"')) return;
    const full = /^\{"type":"snapshot","snapshot":\{"version":"([^"]+)"/.exec(line);
    const delta = full ? null : /^\{"type":"delta","version":"([^"]+)","base":"([^"]+)"/.exec(line);
    const version = (full ?? delta)?.[1];
    if (version === undefined) return send({ ev: 'error', id: p.id, message: `unexpected line: ${line.slice(0, 200)}` });
    if (delta && delta[2] !== holds) {
      req.write(JSON.stringify({ type: 'nack', version, resync: true, errors: [{ path: 'delta.base', message: `applies to version ${delta[2]}, but this proxy holds version ${holds}` }] }) + '\n');
      return send({ ev: 'error', id: p.id, message: `delta ${version} on base ${delta[2]}, but held ${holds}: asked for a resync` });
    }
    holds = version;
    req.write(JSON.stringify({ type: 'ack', version }) + '\n');
    send({ ev: 'snapshot', id: p.id, kind: full ? 'snapshot' : 'delta', version, bytes: size, at: now() });
  };
  req.on('response', (res) => {
    let head = '';
    let bytes = 0;
    res.on('data', (chunk: Buffer) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(10, start);
        const end = nl === -1 ? chunk.length : nl;
        if (head.length < HEAD) head += chunk.toString('utf8', start, Math.min(end, start + HEAD));
        bytes += end - start;
        if (nl === -1) break;
        onLine(head, bytes + 1);
        head = '';
        bytes = 0;
        start = nl + 1;
      }
    });
    res.on('end', () => lost('the control plane ended the stream'));
    res.on('error', (err) => lost(err.message));
  });
  req.on('error', (err) => lost(err.message));
  req.on('close', () => lost('stream closed'));
}

process.on('message', (m: ParentMessage) => {
  if (m.cmd === 'start') for (const p of m.proxies) connect(m.controlUrl, m.token, p);
  if (m.cmd === 'stop') {
    stopping = true;
    for (const r of requests) r.destroy();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
