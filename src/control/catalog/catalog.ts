// The control plane's catalog: registered instances with heartbeats (TTL), active health checks and
// removal of instances that stay critical. Memory is the source of truth while running; the store
// keeps registrations and health changes (not every heartbeat) so a restart loses nothing.

import type { HealthStatus, InstanceRegistration, InstanceState } from '../../config/catalog-types.ts';
import type { Clock, Timer } from '../../lib/clock.ts';
import { WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Store } from '../store/store.ts';
import { probe as defaultProbe, type ProbeResult } from './probe.ts';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';

interface CheckState {
  status: HealthStatus;
  reason: string;
  consecutive: number;
  timer?: Timer;
}

interface Entry {
  state: InstanceState;
  checks: CheckState[];
}

export interface CatalogOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly probe?: (check: HealthCheckSpec, host: string, port: number) => Promise<ProbeResult>;
  /** How often TTLs and removals are evaluated. */
  readonly sweepMs?: number;
}

export function instanceKey(namespace: string, service: string, id: string): string {
  return `${namespace}/${service}/${id}`;
}

export class Catalog {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #probe: NonNullable<CatalogOptions['probe']>;
  readonly #sweepMs: number;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<() => void>();
  #sweepTimer?: Timer;
  #closed = false;

  constructor(options: CatalogOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#probe = options.probe ?? defaultProbe;
    this.#sweepMs = options.sweepMs ?? 1000;
  }

  /**
   * Loads persisted instances. Passing ones get a fresh heartbeat window (the control plane was
   * away, not them); critical ones stay critical, with their removal clock still running.
   */
  async start(): Promise<void> {
    const now = this.#clock.now();
    for (const saved of await this.#store.listInstances()) {
      const state: InstanceState = saved.health === 'critical' ? saved : { ...saved, lastHeartbeat: now };
      this.#entries.set(instanceKey(state.namespace, state.service, state.id), this.#newEntry(state));
    }
    for (const entry of this.#entries.values()) this.#startChecks(entry);
    this.#scheduleSweep();
  }

  stop(): void {
    this.#closed = true;
    this.#sweepTimer?.cancel();
    for (const entry of this.#entries.values()) for (const c of entry.checks) c.timer?.cancel();
  }

  list(): InstanceState[] {
    return [...this.#entries.values()].map((e) => e.state);
  }

  get(namespace: string, service: string, id: string): InstanceState | undefined {
    return this.#entries.get(instanceKey(namespace, service, id))?.state;
  }

  /** Called after any change that can alter what proxies see (the snapshot builder listens). */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Create or replace a registration; it counts as a heartbeat. */
  async register(reg: InstanceRegistration): Promise<InstanceState> {
    const key = instanceKey(reg.namespace, reg.service, reg.id);
    const old = this.#entries.get(key);
    if (old) for (const c of old.checks) c.timer?.cancel();
    const now = this.#clock.now();
    const state: InstanceState = {
      ...reg,
      health: 'passing',
      healthReason: reg.checks.length ? 'registered; checks pending' : 'registered',
      registeredAt: old?.state.registeredAt ?? now,
      lastHeartbeat: now,
      healthSince: now,
    };
    await this.#store.putInstance(state);
    const entry = this.#newEntry(state);
    this.#entries.set(key, entry);
    this.#startChecks(entry);
    this.#log.info('instance registered', { instance: key, address: `${reg.address}:${reg.ports.map((p) => p.targetPort).join(',')}` });
    this.#changed();
    return state;
  }

  /** A TTL heartbeat. Unknown instances get 404 so their sidecar registers again. */
  async heartbeat(namespace: string, service: string, id: string): Promise<InstanceState> {
    const entry = this.#require(namespace, service, id);
    entry.state = { ...entry.state, lastHeartbeat: this.#clock.now() };
    await this.#reevaluate(entry);
    // Backends that expire instances themselves (etcd leases) hear of the heartbeat; a failure
    // there must not fail the heartbeat: memory stays the judge of health.
    this.#store.refreshInstance?.(entry.state).catch((err: unknown) => this.#log.warn('store could not refresh instance', { instance: instanceKey(namespace, service, id), err }));
    return entry.state;
  }

  async deregister(namespace: string, service: string, id: string): Promise<InstanceState> {
    const key = instanceKey(namespace, service, id);
    const entry = this.#require(namespace, service, id);
    for (const c of entry.checks) c.timer?.cancel();
    this.#entries.delete(key);
    await this.#store.deleteInstance(namespace, service, id);
    this.#log.info('instance deregistered', { instance: key });
    this.#changed();
    return entry.state;
  }

  /** Evaluates TTLs and removes instances critical for longer than their grace period. */
  async sweep(): Promise<void> {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      const s = entry.state;
      if (s.health === 'critical' && now - s.healthSince > s.deregisterAfterSeconds * 1000) {
        for (const c of entry.checks) c.timer?.cancel();
        this.#entries.delete(key);
        await this.#store.deleteInstance(s.namespace, s.service, s.id);
        this.#log.warn('instance removed after staying critical', { instance: key, reason: s.healthReason });
        this.#changed();
        continue;
      }
      await this.#reevaluate(entry);
    }
  }

  #require(namespace: string, service: string, id: string): Entry {
    const entry = this.#entries.get(instanceKey(namespace, service, id));
    if (!entry) throw new WeftError('WEFT_ERR_CATALOG_NOT_FOUND', `no instance ${id} of service ${service} in namespace ${namespace}`, 404);
    return entry;
  }

  #newEntry(state: InstanceState): Entry {
    return { state, checks: state.checks.map(() => ({ status: 'passing' as HealthStatus, reason: 'pending', consecutive: 0 })) };
  }

  #startChecks(entry: Entry): void {
    entry.state.checks.forEach((check, i) => {
      const run = async (): Promise<void> => {
        if (this.#closed || entry.checks[i] === undefined) return;
        const key = instanceKey(entry.state.namespace, entry.state.service, entry.state.id);
        if (this.#entries.get(key) !== entry) return; // replaced or removed
        const port = check.port ?? entry.state.ports[0]?.targetPort ?? 0;
        const result = await this.#probe(check, check.host ?? entry.state.address, port);
        this.#recordCheck(entry.checks[i], check, result);
        await this.#reevaluate(entry);
        if (this.#entries.get(key) === entry && !this.#closed) entry.checks[i].timer = this.#clock.setTimeout(run, check.intervalSeconds * 1000);
      };
      void run();
    });
  }

  #recordCheck(state: CheckState, check: HealthCheckSpec, result: ProbeResult): void {
    const wanted: HealthStatus = result.ok ? 'passing' : 'critical';
    if (wanted === state.status) {
      state.consecutive = 0;
      if (!result.ok) state.reason = result.reason;
      return;
    }
    state.consecutive++;
    const threshold = result.ok ? check.healthyThreshold : check.unhealthyThreshold;
    if (state.consecutive >= threshold) {
      state.status = wanted;
      state.reason = result.ok ? 'passing' : result.reason;
      state.consecutive = 0;
    }
  }

  /** Derives health from the TTL and every check; persists and notifies only when it changes. */
  async #reevaluate(entry: Entry): Promise<void> {
    const s = entry.state;
    const now = this.#clock.now();
    let health: HealthStatus = 'passing';
    let reason = 'passing';
    const silentMs = now - s.lastHeartbeat;
    if (s.ttlSeconds > 0 && silentMs > s.ttlSeconds * 1000) {
      health = 'critical';
      reason = `ttl expired: no heartbeat for ${(silentMs / 1000).toFixed(1)}s (ttl ${s.ttlSeconds}s)`;
    }
    for (const c of entry.checks) {
      if (c.status === 'critical' && health !== 'critical') {
        health = 'critical';
        reason = c.reason;
      }
    }
    if (health === s.health) {
      // The first check results replace "checks pending"; no one needs notifying of a reason.
      if (reason !== s.healthReason && health === 'passing' && s.healthReason !== 'registered') entry.state = { ...s, healthReason: reason };
      return;
    }
    entry.state = { ...s, health, healthReason: reason, healthSince: now };
    this.#log.info('instance health changed', { instance: instanceKey(s.namespace, s.service, s.id), from: s.health, to: health, reason });
    if (this.#entries.get(instanceKey(s.namespace, s.service, s.id)) === entry) {
      await this.#store.putInstance(entry.state);
      this.#changed();
    }
  }

  #scheduleSweep(): void {
    if (this.#closed) return;
    // The next sweep is scheduled before this one runs, so sweeps keep their cadence whatever a
    // store write costs; an overlap is harmless because each state change happens synchronously.
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#scheduleSweep();
      this.sweep().catch((err) => this.#log.error('catalog sweep failed', { err }));
    }, this.#sweepMs);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

export type { InstanceState };
