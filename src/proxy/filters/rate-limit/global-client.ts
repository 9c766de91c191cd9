// The global limit's Redis client (ioredis): one connection per Redis address, shared by every
// policy of the proxy that names it; a check is one EVALSHA of the GCRA script, and concurrent
// checks go out pipelined in one write. A dead Redis fails a check at once, never queues it.
// ioredis loads node:tls, so it is imported when a global limit is first used, not with the sidecar.

import type { Redis, RedisOptions } from 'ioredis';
import { parseRedisAddress } from '../../../config/kinds/rate-limit-policy.ts';
import { createLogger } from '../../../lib/log.ts';
import { GCRA_LUA } from './gcra-script.ts';

const log = createLogger('rate-limit');

/** What Redis answered for one request. */
export interface GlobalVerdict {
  readonly admitted: boolean;
  /** ms until a request would be admitted (0 when admitted). */
  readonly waitMs: number;
  /** Requests left in the burst after this one. */
  readonly remaining: number;
}

export interface GlobalClient {
  readonly address: string;
  /**
   * Runs GCRA for `key`: `intervalUs` = 1e6 / requestsPerSecond and `burst`, as the decimal strings
   * the script takes (gcraArgs, once per policy). Rejects when Redis cannot answer
   * within COMMAND_TIMEOUT_MS or is not connected (a fault, for the caller's failureMode).
   */
  check(key: string, intervalUs: string, burst: string): Promise<GlobalVerdict>;
  /** Whether the last check failed (an outage is logged once, at its start, and once at its end). */
  readonly down: boolean;
}

/** The script's arguments for a rate and burst, computed once per policy rather than per request. */
export function gcraArgs(requestsPerSecond: number, burst: number): { readonly intervalUs: string; readonly burst: string } {
  return { intervalUs: (1e6 / requestsPerSecond).toFixed(3), burst: String(burst) };
}

/** A check slower than this counts as a Redis failure: a rate limit must not become the latency. */
export const COMMAND_TIMEOUT_MS = 200;

type GcraRedis = Redis & { weftGcra(key: string, intervalUs: string, burst: string): Promise<[number, number, number]> };

interface Shared {
  readonly client: GlobalClient;
  close(): void;
  users: number;
}

const shared = new Map<string, Shared>();

function connect(address: string): Shared {
  const parsed = parseRedisAddress(address);
  if (typeof parsed === 'string') throw new Error(`redis address ${address}: ${parsed}`);
  const options: RedisOptions = {
    host: parsed.host,
    port: parsed.port,
    // Fail fast: no queue behind a dead connection, no retries of a command, a short deadline.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 1_000,
    enableAutoPipelining: true,
    // Reconnect forever, at most a second apart: the limit comes back when Redis does.
    retryStrategy: (times) => Math.min(50 * times, 1_000),
  };
  let down = false;
  let closed = false;
  let redis: GcraRedis | undefined;
  const failed = (err: unknown): void => {
    if (!down) log.warn('redis unreachable: global rate limits use their failureMode until it answers again', { address, error: err instanceof Error ? err.message : String(err) });
    down = true;
  };
  // Resolves when the first connection attempt ends (connected, or failed): checks made before it
  // wait for it, briefly, rather than fail while the sidecar is just starting its connection.
  const firstAttempt: Promise<void> = import('ioredis').then(
    ({ Redis: RedisClient }) =>
      new Promise<void>((resolve) => {
        if (closed) return;
        redis = new RedisClient(options) as GcraRedis;
        // defineCommand sends EVALSHA, and the script itself once on NOSCRIPT (a restarted Redis).
        redis.defineCommand('weftGcra', { numberOfKeys: 1, lua: GCRA_LUA });
        // Connection errors also arrive as events; without a listener ioredis prints each one.
        redis.on('error', failed);
        redis.once('ready', resolve);
        redis.once('error', () => resolve());
        redis.once('close', () => resolve());
      }),
    (err: unknown) => failed(err),
  );
  let attempted = false;
  void firstAttempt.then(() => (attempted = true));
  /** Until the first connection attempt ends, a check waits for it up to the command timeout (then fails as usual). */
  const started = (): Promise<void> | undefined =>
    attempted
      ? undefined
      : new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, COMMAND_TIMEOUT_MS);
          void firstAttempt.then(() => {
            clearTimeout(timer);
            resolve();
          });
        });
  const gcra = async (key: string, intervalUs: string, burst: string): Promise<GlobalVerdict> => {
    const wait = started();
    if (wait !== undefined) await wait;
    if (redis === undefined) throw new Error('redis client not started yet');
    const [admitted, waitUs, remaining] = await redis.weftGcra(key, intervalUs, burst);
    return { admitted: admitted === 1, waitMs: waitUs / 1000, remaining };
  };
  const client: GlobalClient = {
    address,
    get down() {
      return down;
    },
    async check(key, intervalUs, burst) {
      try {
        const verdict = await gcra(key, intervalUs, burst);
        if (down) {
          down = false;
          log.info('redis answers again: global rate limits in force', { address });
        }
        return verdict;
      } catch (err) {
        failed(err);
        throw err;
      }
    },
  };
  return {
    client,
    close() {
      closed = true;
      redis?.disconnect();
    },
    users: 0,
  };
}

/** The shared client for `address` (connected on first use); pair each call with releaseGlobalClient. */
export function acquireGlobalClient(address: string): GlobalClient {
  let s = shared.get(address);
  if (s === undefined) shared.set(address, (s = connect(address)));
  s.users++;
  return s.client;
}

/** One user fewer; the last one closes the connection. */
export function releaseGlobalClient(client: GlobalClient): void {
  const s = shared.get(client.address);
  if (s === undefined || s.client !== client) return;
  if (--s.users > 0) return;
  shared.delete(client.address);
  s.close();
}
