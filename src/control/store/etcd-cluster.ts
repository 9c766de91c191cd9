// What control-plane replicas on one etcd share beyond resources and instances: values created once
// by whichever replica comes first (the generated CA), and the lease-based leader election that
// decides which replica runs the work that must run once (TTL expiry, checks, the Kubernetes source).

import type { Etcd3 } from 'etcd3';
import type { Campaign as EtcdCampaign, Lease } from 'etcd3';
import type { Clock, Timer } from '../../lib/clock.ts';
import { createBackoff } from '../../lib/backoff.ts';
import { errorMessage } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { EtcdKeys } from './etcd-keys.ts';
import type { Campaign, StoreCluster } from './store.ts';

export interface EtcdClusterOptions {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly clock: Clock;
  readonly log: Logger;
}

/** The election's name under `<prefix>/cluster/`: one leader per weft prefix. */
const ELECTION = 'leader';

export class EtcdCluster implements StoreCluster {
  readonly #client: Etcd3;
  readonly #keys: EtcdKeys;
  readonly #clock: Clock;
  readonly #log: Logger;
  #publishLease: Lease | undefined;

  constructor(options: EtcdClusterOptions) {
    this.#client = options.client;
    this.#keys = options.keys;
    this.#clock = options.clock;
    this.#log = options.log;
  }

  async createIfAbsent(name: string, value: string): Promise<string> {
    const key = this.#keys.cluster(name);
    // create_revision 0: the key does not exist. One transaction, so two replicas starting together
    // cannot both win.
    const txn = await this.#client.if(key, 'Create', '==', 0).then(this.#client.put(key).value(value)).else(this.#client.get(key)).commit();
    if (txn.succeeded) return value;
    const kv = txn.responses[0]?.response_range?.kvs[0];
    if (kv === undefined) throw new Error(`etcd key ${key} exists but could not be read`);
    return kv.value.toString();
  }

  async publish(replica: string, name: string, value: string, ttlSeconds: number): Promise<void> {
    if (this.#publishLease === undefined) {
      const lease = this.#client.lease(ttlSeconds, { autoKeepAlive: true });
      // A lost lease (etcd away past its TTL) took the published values with it: the next publish
      // makes a new one.
      lease.on('lost', () => {
        if (this.#publishLease === lease) this.#publishLease = undefined;
      });
      this.#publishLease = lease;
    }
    await this.#publishLease.put(`${this.#keys.cluster('replicas')}/${encodeURIComponent(replica)}/${encodeURIComponent(name)}`).value(value).exec();
  }

  async published(name: string): Promise<{ readonly replica: string; readonly value: string }[]> {
    const prefix = `${this.#keys.cluster('replicas')}/`;
    const all = await this.#client.getAll().prefix(prefix).exec();
    const out: { replica: string; value: string }[] = [];
    for (const kv of all.kvs) {
      const [replica, key] = kv.key.toString().slice(prefix.length).split('/');
      if (key !== undefined && decodeURIComponent(key) === name) out.push({ replica: decodeURIComponent(replica), value: kv.value.toString() });
    }
    return out;
  }

  async withdraw(): Promise<void> {
    const lease = this.#publishLease;
    this.#publishLease = undefined;
    // Revoking the lease deletes every key on it.
    await lease?.revoke().catch(() => {});
  }

  campaign(value: string, ttlSeconds: number, onChange: (leader: boolean) => void): Campaign {
    // etcd's concurrency/election recipe (as etcd3's Election implements it): each candidate puts a
    // key on its own lease under the election prefix; the lowest create revision leads; a lost
    // lease deletes the key, and the next candidate takes over.
    const election = this.#client.namespace(this.#keys.cluster(ELECTION) + '/').election('control', ttlSeconds);
    const backoff = createBackoff({ baseMs: 500, maxMs: 5_000 });
    let leader = false;
    let stopped = false;
    let current: EtcdCampaign | undefined;
    let observed: string | undefined;
    let retry: Timer | undefined;
    let observeTimer: Timer | undefined;
    const setLeader = (next: boolean): void => {
      if (leader === next) return;
      leader = next;
      if (next) observed = value;
      this.#log.info(next ? 'elected leader of the control-plane replicas' : 'no longer the leader of the control-plane replicas', { replica: value });
      onChange(next);
    };
    const start = (): void => {
      if (stopped) return;
      const campaign = election.campaign(value);
      current = campaign;
      campaign.on('elected', () => {
        if (current === campaign && !stopped) {
          backoff.reset();
          setLeader(true);
        }
      });
      campaign.on('error', (err: Error) => {
        if (current !== campaign) return;
        current = undefined;
        // The lease is gone (or never came): the once-only work stops now, before anything else.
        setLeader(false);
        campaign.resign().catch(() => {});
        if (stopped) return;
        const delay = backoff.next();
        this.#log.warn('leader campaign failed; campaigning again', { error: errorMessage(err), inMs: delay });
        retry = this.#clock.setTimeout(start, delay);
      });
    };
    // The leader is read (the key of lowest create revision) once a second rather than followed with
    // etcd3's ElectionObserver: when two candidates' keys arrive in one watch event, that observer
    // takes the last one for the leader and keeps naming it until that key goes.
    const observe = (): void => {
      if (stopped) return;
      election
        .leader()
        .then(
          (v) => {
            if (!stopped) observed = v;
          },
          (err: unknown) => this.#log.debug('reading the leader failed; reading again', { error: errorMessage(err) }),
        )
        .finally(() => {
          if (!stopped) observeTimer = this.#clock.setTimeout(observe, 1000);
        });
    };
    start();
    observe();
    return {
      isLeader: () => leader,
      // Our own word first: the leader read once a second can lag an election by up to that second,
      // and a replica must never name another while it runs the once-only work (or itself after losing).
      leader: () => (leader ? value : observed === value ? undefined : observed),
      stop: async () => {
        stopped = true;
        retry?.cancel();
        observeTimer?.cancel();
        const c = current;
        current = undefined;
        setLeader(false);
        await c?.resign().catch(() => {});
      },
    };
  }
}
