// Serves one proxy's stream: reads its hello, subscribes it to the snapshot cache for its node key,
// writes each new snapshot as a delta or in full (snapshot-writer.ts), and records ACK/NACK; tells
// the proxy the CA's roots and issuer at hello and at each change (root rotation); hands the health
// reports of the checks a sidecar runs on its own app to the catalog, and its golden signals (`stats`)
// to the stats window.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { errorMessage } from '../../lib/errors.ts';
import { createLineSplitter, STREAM_PING_MS, type ProxyMessage, type TrustMessage } from '../../config/stream-protocol.ts';
import { validateNodeInfo } from '../../config/node-info.ts';
import { validateHealthReport, type ReportedCheck } from '../../config/health-check.ts';
import { validateStatsReport, type StatsReport } from '../../config/stats-report.ts';
import type { NodeInfo } from '../../config/snapshot-types.ts';
import type { SnapshotCache, CachedSnapshot } from '../snapshot/cache.ts';
import { nodeScope } from '../snapshot/node-key.ts';
import type { ProxyRegistry, ProxyStatus } from './proxy-registry.ts';
import { createSnapshotWriter } from './snapshot-writer.ts';

export interface StreamServerDeps {
  readonly cache: SnapshotCache;
  readonly registry: ProxyRegistry;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onAck?: (status: ProxyStatus) => void;
  /** Why the caller may not open a stream for this node (another service's, another proxy's id); undefined: it may. */
  readonly authorizeHello?: (node: NodeInfo) => string | undefined;
  /** The CA's trust state, pushed to the proxy at hello and on every change (root rotation). */
  readonly trust?: { trust(): TrustMessage; onTrustChange(listener: (trust: TrustMessage) => void): () => void };
  /** A `health` report (validated) from this node's sidecar: its instance's id is the node's id. */
  readonly onHealth?: (node: NodeInfo, checks: readonly ReportedCheck[]) => void;
  /** A `stats` report from this node's sidecar; undefined when it was invalid (and dropped). */
  readonly onStats?: (node: NodeInfo, report: StatsReport | undefined) => void;
}

const HELLO_TIMEOUT_MS = 10_000;
/** How long a resuming proxy that holds a newer version than this replica waits for it to catch up. */
const RESUME_WAIT_MS = 3_000;

export function handleStream(req: IncomingMessage, res: ServerResponse, deps: StreamServerDeps): void {
  const { cache, registry, clock, log } = deps;
  let status: ProxyStatus | undefined;
  let unsubscribe: (() => void) | undefined;
  let unsubscribeTrust: (() => void) | undefined;
  let closed = false;

  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
  res.flushHeaders();
  req.socket.setNoDelay(true);
  req.socket.setKeepAlive(true, 5_000);

  const writer = createSnapshotWriter(
    { write: (line) => !closed && res.write(line), needsDrain: () => res.writableNeedDrain },
    (version) => {
      if (status) status.sentVersion = version;
    },
  );
  res.on('drain', () => writer.drain());

  const fail = (code: string, message: string): void => {
    log.warn('stream refused', { code, message, remote: req.socket.remoteAddress });
    res.end(JSON.stringify({ type: 'error', code, message }) + '\n');
    close();
  };

  const helloTimer = setTimeout(() => fail('WEFT_ERR_STREAM_NO_HELLO', `no hello within ${HELLO_TIMEOUT_MS}ms`), HELLO_TIMEOUT_MS);
  // A ping only proves the stream is alive; it must never take the place of a waiting snapshot.
  const pingTimer = setInterval(() => {
    if (!closed && !res.writableNeedDrain) res.write('{"type":"ping"}\n');
  }, STREAM_PING_MS);
  pingTimer.unref();

  const close = (): void => {
    if (closed) return;
    closed = true;
    clearTimeout(helloTimer);
    clearInterval(pingTimer);
    unsubscribe?.();
    unsubscribeTrust?.();
    if (status) {
      registry.disconnected(status, clock.now());
      log.info('proxy disconnected', { proxy: status.node.id });
    }
  };

  const onMessage = (msg: ProxyMessage): void => {
    if (!status) {
      if (msg.type !== 'hello') return fail('WEFT_ERR_STREAM_PROTOCOL', 'the first message must be hello');
      const node = validateNodeInfo(msg.node);
      if (!node.ok) return fail('WEFT_ERR_STREAM_BAD_HELLO', node.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
      const refusal = deps.authorizeHello?.(node.value);
      if (refusal !== undefined) return fail('WEFT_ERR_AUTH_FORBIDDEN', refusal);
      clearTimeout(helloTimer);
      const resume = msg.resume;
      if (resume && typeof resume === 'object' && typeof resume.version === 'string' && typeof resume.hash === 'string' && /^\d{1,20}$/.test(resume.version)) {
        writer.resume(resume.version, resume.hash);
        // Held back if this replica is behind the one the proxy came from: a rebuild reads the
        // store afresh, and after RESUME_WAIT_MS the proxy gets what there is.
        const releaseTimer = setTimeout(() => writer.release(), RESUME_WAIT_MS);
        releaseTimer.unref();
        res.once('close', () => clearTimeout(releaseTimer));
      }
      const s = registry.connected(node.value, `${req.socket.remoteAddress}:${req.socket.remotePort}`, clock.now());
      status = s;
      log.info('proxy connected', { proxy: s.node.id, service: s.node.service, namespace: s.node.namespace });
      if (deps.trust) {
        // One line, small and rare: written even while a snapshot waits for drain.
        const sendTrust = (t: TrustMessage): void => {
          if (!closed) res.write(JSON.stringify({ type: 'trust', trustBundle: t.trustBundle, issuer: t.issuer }) + '\n');
        };
        sendTrust(deps.trust.trust());
        unsubscribeTrust = deps.trust.onTrustChange(sendTrust);
      }
      cache
        .subscribe(nodeScope(s.node), (cached: CachedSnapshot) => {
          if (!closed) writer.push(cached);
        })
        .then((unsub) => {
          if (closed) unsub();
          else unsubscribe = unsub;
          if (writer.holding()) cache.changed();
        })
        .catch((err) => fail('WEFT_ERR_STREAM_SNAPSHOT', errorMessage(err)));
      return;
    }
    if (msg.type === 'ack') {
      status.ackedVersion = String(msg.version);
      status.ackedAt = clock.now();
      if (status.nackedVersion !== undefined && Number(status.nackedVersion) <= Number(msg.version)) {
        status.nackedVersion = undefined;
        status.nackErrors = undefined;
      }
      deps.onAck?.(status);
    } else if (msg.type === 'health') {
      const report = validateHealthReport(msg.checks);
      // A bad report is dropped, not fatal: the stream also carries this proxy's config.
      if (!report.ok) log.warn('ignoring a bad health report', { proxy: status.node.id, errors: report.errors });
      else deps.onHealth?.(status.node, report.value);
    } else if (msg.type === 'stats') {
      const report = validateStatsReport(msg);
      // Like a bad health report: dropped whole, logged, and the stream carries on.
      if (!report.ok) {
        log.warn('ignoring a bad stats report', { proxy: status.node.id, errors: report.errors.slice(0, 5) });
        deps.onStats?.(status.node, undefined);
      } else deps.onStats?.(status.node, report.value);
    } else if (msg.type === 'nack' && msg.resync === true) {
      // Not a refusal of the configuration: the proxy's base did not match. Not shown as REJECTED.
      log.info('proxy asked for a full snapshot', { proxy: status.node.id, version: msg.version, errors: msg.errors });
      writer.resync(String(msg.version));
    } else if (msg.type === 'nack') {
      writer.refused();
      status.nackedVersion = String(msg.version);
      status.nackErrors = Array.isArray(msg.errors) ? msg.errors.slice(0, 50) : [];
      log.warn('proxy refused snapshot', { proxy: status.node.id, version: msg.version, errors: status.nackErrors });
    }
  };

  const split = createLineSplitter((line) => {
    let msg: ProxyMessage;
    try {
      msg = JSON.parse(line) as ProxyMessage;
    } catch {
      return fail('WEFT_ERR_STREAM_PROTOCOL', 'a stream message is not JSON');
    }
    if (msg === null || typeof msg !== 'object') return fail('WEFT_ERR_STREAM_PROTOCOL', 'a stream message is not an object');
    onMessage(msg);
  });
  req.on('data', (chunk: Buffer) => {
    try {
      split(chunk);
    } catch (err) {
      fail('WEFT_ERR_STREAM_PROTOCOL', errorMessage(err));
    }
  });
  req.on('end', () => res.end());
  req.on('close', close);
  res.on('close', close);
}
