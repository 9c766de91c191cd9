// Opening the etcd store's client: dials the cluster and proves it answers, retrying with jittered
// backoff and a warning per attempt (naming the addresses) until a deadline, so that an
// unreachable etcd at start is a clear, bounded failure rather than a silent hang or a crash loop.

import { setTimeout as sleep } from 'node:timers/promises';
import { Etcd3 } from 'etcd3';
import { createBackoff } from '../../lib/backoff.ts';
import type { Clock } from '../../lib/clock.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';

export const STORE_UNREACHABLE = 'WEFT_ERR_STORE_UNREACHABLE';

export interface EtcdConnectOptions {
  /** `http://HOST:PORT` each. */
  readonly endpoints: readonly string[];
  /** Key the first read goes to (any key: it proves the cluster has a leader and answers reads). */
  readonly probeKey: string;
  /** Give up after this long (ms). */
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly random?: () => number;
}

export interface EtcdConnection {
  readonly client: Etcd3;
  /** The cluster's revision at the probe: the store watches from the one after it. */
  readonly revision: number;
}

/** Per-call deadline for unary calls: etcd answers in ms; a dead member must not stall a write for long. */
const CALL_DEADLINE_MS = 10_000;

/**
 * Connects and probes with a linearizable read. Throws WEFT_ERR_STORE_UNREACHABLE (503) after
 * `timeoutMs` with the addresses, the attempts made and the last error.
 */
export async function connectEtcd(options: EtcdConnectOptions): Promise<EtcdConnection> {
  const addresses = options.endpoints.map((e) => e.replace(/^https?:\/\//, '')).join(',');
  const client = new Etcd3({
    hosts: [...options.endpoints],
    dialTimeout: 5_000,
    // Streams (watch, keepalive) live as long as the store; unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
  });
  const backoff = createBackoff({ baseMs: 500, maxMs: 10_000, random: options.random });
  const started = options.clock.now();
  // The client's per-host circuit breaker answers "circuit breaker is open" while it rests; the
  // connection error before it is the one worth showing.
  let cause = '';
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await client.get(options.probeKey).exec();
      if (attempt > 1) options.log.info('etcd reachable', { addresses, attempts: attempt });
      return { client, revision: Number(res.header.revision) };
    } catch (err) {
      if (cause === '' || !/circuit breaker/i.test(errorMessage(err))) cause = errorMessage(err);
      const elapsed = options.clock.now() - started;
      const delay = backoff.next();
      if (elapsed + delay > options.timeoutMs) {
        client.close();
        throw new WeftError(
          STORE_UNREACHABLE,
          `cannot reach etcd at ${addresses} after ${Math.round(elapsed / 1000)}s and ${attempt} attempts: ${cause}`,
          503,
        );
      }
      options.log.warn('etcd not reachable; retrying', {
        addresses,
        attempt,
        retryInMs: delay,
        giveUpInMs: Math.max(0, options.timeoutMs - elapsed),
        error: cause,
      });
      // A real (ref'd) timer: while waiting for etcd nothing else may keep the process alive.
      await sleep(delay);
    }
  }
}
