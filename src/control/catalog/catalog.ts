// The control plane's catalog: registered instances with heartbeats (TTL), active health checks (run
// here, or run by the instance's own sidecar and reported up its stream) and removal of instances
// that stay critical. Memory is the source of truth while running; the store
// keeps registrations and health changes (not every heartbeat) so a restart loses nothing. With
// several replicas on one store, each follows the others' writes and heartbeats, and only the
// leader judges TTLs, runs checks and removes instances (see setLeader).

import type { CheckResult, HealthStatus, InstanceRegistration, InstanceSource, InstanceState, ReportedHealth } from '../../config/catalog-types.ts';
import { completeHealthCheck, type ReportedCheck } from '../../config/health-check.ts';
import type { Clock, Timer } from '../../lib/clock.ts';
import { WeftError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import type { Store, StoreEvent } from '../store/store.ts';
import { probe as defaultProbe, type ProbeResult } from './probe.ts';
import type { HealthCheckSpec } from '../../config/catalog-types.ts';

interface CheckState {
  status: HealthStatus;
  reason: string;
  consecutive: number;
  /** When `status` last changed. */
  since: number;
  timer?: Timer;
}

interface Entry {
  state: InstanceState;
  checks: CheckState[];
  /** Health as an external source (state.source) reports it; the starting point of #reevaluate. */
  sourced?: { health: HealthStatus; reason: string };
  /** When this replica last published a heartbeat of this instance to the store (epoch ms). */
  publishedAt?: number;
}

export interface CatalogOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly probe?: (check: HealthCheckSpec, host: string, port: number) => Promise<ProbeResult>;
  /** How often TTLs and removals are evaluated. */
  readonly sweepMs?: number;
  /**
   * Whether this replica starts as the one that judges TTLs, runs the control plane's checks and
   * removes instances (default true: one replica). Replicas on etcd start false; see setLeader.
   */
  readonly leader?: boolean;
}

/** Worse health ranks higher: a reported or checked status only ever makes an instance worse. */
const SEVERITY: Readonly<Record<HealthStatus, number>> = { passing: 0, warning: 1, critical: 2 };

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
  #leader: boolean;
  #unwatch?: () => void;

  constructor(options: CatalogOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#probe = options.probe ?? defaultProbe;
    this.#sweepMs = options.sweepMs ?? 1000;
    this.#leader = options.leader ?? true;
  }

  /**
   * Loads persisted instances. Passing ones get a fresh heartbeat window (the control plane was
   * away, not them); critical ones stay critical, with their removal clock still running.
   */
  async start(): Promise<void> {
    // Before the list, so nothing written meanwhile by another replica is missed (applying twice is harmless).
    this.#unwatch = this.#store.watch((event) => {
      this.#onStoreEvent(event).catch((err: unknown) => this.#log.warn('could not follow a store change', { event: event.type, err }));
    });
    const now = this.#clock.now();
    for (const stored of await this.#store.listInstances()) {
      // Checks stored by an older control plane (whole seconds only) are completed on read.
      const saved: InstanceState = { ...stored, checks: stored.checks.map(completeHealthCheck) };
      const state: InstanceState = saved.health === 'critical' ? saved : { ...saved, lastHeartbeat: now };
      // A sidecar's last report stands until it reports again (it does at once when its stream is back).
      const entry = this.#newEntry(state, state.checkResults);
      // A mirrored instance keeps the health its source last gave until the source resyncs it.
      if (state.source !== undefined) entry.sourced = { health: saved.health, reason: saved.healthReason };
      this.#entries.set(instanceKey(state.namespace, state.service, state.id), entry);
    }
    if (this.#leader) {
      for (const entry of this.#entries.values()) this.#startChecks(entry);
      this.#scheduleSweep();
    }
  }

  /** Whether this replica judges TTLs, runs checks and removes instances. */
  isLeader(): boolean {
    return this.#leader;
  }

  /**
   * Becoming leader (elected): every instance gets a fresh heartbeat window (heartbeats sent to the
   * old leader may not all have been seen here), checks start and sweeps begin. Losing it: checks
   * and sweeps stop at once, and health changes only by what the new leader writes.
   */
  setLeader(leader: boolean): void {
    if (this.#closed || leader === this.#leader) return;
    this.#leader = leader;
    if (leader) {
      const now = this.#clock.now();
      for (const entry of this.#entries.values()) {
        if (entry.state.health !== 'critical') entry.state = { ...entry.state, lastHeartbeat: Math.max(now, entry.state.lastHeartbeat) };
        this.#startChecks(entry);
      }
      this.#scheduleSweep();
    } else {
      this.#sweepTimer?.cancel();
      this.#sweepTimer = undefined;
      for (const entry of this.#entries.values()) for (const c of entry.checks) c.timer?.cancel();
    }
  }

  /** Another replica's writes and heartbeats (etcd's watch): this replica's memory follows them. */
  async #onStoreEvent(event: StoreEvent): Promise<void> {
    if (this.#closed) return;
    if (event.type === 'heartbeat') {
      const entry = this.#entries.get(instanceKey(event.namespace, event.service, event.id));
      if (entry && event.at > entry.state.lastHeartbeat) entry.state = { ...entry.state, lastHeartbeat: event.at };
      return;
    }
    if (event.type === 'instance-delete' && event.remote) {
      const key = instanceKey(event.namespace, event.service, event.id);
      const entry = this.#entries.get(key);
      if (!entry) return;
      for (const c of entry.checks) c.timer?.cancel();
      this.#entries.delete(key);
      this.#log.info('instance removed by another replica', { instance: key });
      this.#changed();
      return;
    }
    if (event.type === 'instance-put' && event.remote) {
      this.#adopt(event.instance);
      return;
    }
    if (event.type === 'resync') {
      // The watch lost history: reconcile memory with what the store holds now.
      const stored = await this.#store.listInstances();
      const keys = new Set<string>();
      for (const s of stored) {
        keys.add(instanceKey(s.namespace, s.service, s.id));
        this.#adopt(s);
      }
      for (const [key, entry] of this.#entries) {
        if (keys.has(key)) continue;
        for (const c of entry.checks) c.timer?.cancel();
        this.#entries.delete(key);
        this.#changed();
      }
    }
  }

  /** Takes an instance as another replica stored it; checks restart only when its registration changed. */
  #adopt(stored: InstanceState): void {
    const key = instanceKey(stored.namespace, stored.service, stored.id);
    const old = this.#entries.get(key);
    const state: InstanceState = { ...stored, checks: stored.checks.map(completeHealthCheck), lastHeartbeat: Math.max(stored.lastHeartbeat, old?.state.lastHeartbeat ?? 0) };
    if (old && JSON.stringify(old.state) === JSON.stringify(state)) return;
    const { health: _h, healthReason: _r, registeredAt: _a, lastHeartbeat: _l, healthSince: _s, checkResults: _c, reported: _p, ...reg } = state;
    const sameReg = old !== undefined && sameRegistration(old.state, reg);
    if (old && !sameReg) for (const c of old.checks) c.timer?.cancel();
    const entry: Entry = sameReg && old ? old : this.#newEntry(state, state.checkResults, true);
    if (sameReg && old) {
      // Same registration: the stored results (the writer's view of the checks) replace ours.
      entry.checks.forEach((c, i) => {
        const r = state.checkResults?.[i];
        if (r) Object.assign(c, { status: r.status, reason: r.output, since: r.since });
      });
    }
    entry.state = { ...state, checkResults: this.#results(entry) };
    if (state.source !== undefined) entry.sourced = { health: state.health, reason: state.healthReason };
    this.#entries.set(key, entry);
    if (!sameReg && this.#leader) this.#startChecks(entry);
    if (!old || old.state.health !== state.health || !sameReg) this.#changed();
  }

  stop(): void {
    this.#closed = true;
    this.#unwatch?.();
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

  /**
   * Create or replace a registration; it counts as a heartbeat. `reported` starts the instance with
   * an outside health report (the Consul API registers TTL checks `critical` until their first pass).
   */
  async register(reg: InstanceRegistration, options: { readonly reported?: ReportedHealth } = {}): Promise<InstanceState> {
    const key = instanceKey(reg.namespace, reg.service, reg.id);
    const old = this.#entries.get(key);
    if (old) for (const c of old.checks) c.timer?.cancel();
    const now = this.#clock.now();
    const reported = options.reported;
    const state: InstanceState = {
      ...reg,
      health: reported?.status ?? 'passing',
      healthReason: reported && reported.status !== 'passing' ? reported.reason : reg.checks.length ? 'registered; checks pending' : 'registered',
      registeredAt: old?.state.registeredAt ?? now,
      lastHeartbeat: now,
      healthSince: now,
      ...(reported ? { reported } : {}),
    };
    await this.#store.putInstance(state);
    const entry = this.#newEntry(state);
    this.#entries.set(key, entry);
    this.#startChecks(entry);
    this.#log.info('instance registered', { instance: key, address: `${reg.address}:${reg.ports.map((p) => p.targetPort).join(',')}` });
    this.#changed();
    return state;
  }

  /**
   * The results of the checks an instance's own sidecar runs (`checkedBy: sidecar`), index for index
   * with its registration's `checks`, as its stream reported them; thresholds were applied by the
   * sidecar, so each status is taken as it is. Entries for checks the control plane runs are
   * ignored. Throws WEFT_ERR_CATALOG_NOT_FOUND (404) for an unknown instance.
   */
  async reportChecks(namespace: string, service: string, id: string, reported: readonly ReportedCheck[]): Promise<InstanceState> {
    const entry = this.#require(namespace, service, id);
    const now = this.#clock.now();
    entry.state.checks.forEach((check, i) => {
      const r = reported[i];
      if (check.checkedBy !== 'sidecar' || !r) return;
      const c = entry.checks[i];
      if (c.status !== r.status) c.since = now;
      c.status = r.status;
      c.reason = r.status === 'passing' ? 'passing' : r.output || r.status;
    });
    await this.#reevaluate(entry);
    return entry.state;
  }

  /** A TTL heartbeat. Unknown instances get 404 so their sidecar registers again. */
  async heartbeat(namespace: string, service: string, id: string): Promise<InstanceState> {
    const entry = this.#require(namespace, service, id);
    const now = this.#clock.now();
    entry.state = { ...entry.state, lastHeartbeat: now };
    await this.#reevaluate(entry);
    // Other replicas (the leader, which judges TTLs) learn of it through the store, at most twice a
    // TTL: with heartbeats every third of a TTL, the leader never sees a live instance silent for a TTL.
    const s = entry.state;
    if (this.#store.publishHeartbeat && s.ttlSeconds > 0 && now - (entry.publishedAt ?? 0) >= (s.ttlSeconds * 1000) / 2) {
      entry.publishedAt = now;
      this.#store.publishHeartbeat(namespace, service, id, now).catch((err: unknown) => {
        entry.publishedAt = undefined;
        this.#log.warn('could not publish a heartbeat to the store', { instance: instanceKey(namespace, service, id), err });
      });
    }
    // Backends that expire instances themselves (etcd leases) hear of the heartbeat; a failure
    // there must not fail the heartbeat: memory stays the judge of health.
    this.#store.refreshInstance?.(entry.state).catch((err: unknown) => this.#log.warn('store could not refresh instance', { instance: instanceKey(namespace, service, id), err }));
    return entry.state;
  }

  /**
   * An outside health report (Consul's TTL check pass/warn/fail): replaces the instance's reported
   * status and, with `heartbeat`, counts as a heartbeat too. Persisted when the report changes, so a
   * restart keeps it. Throws WEFT_ERR_CATALOG_NOT_FOUND (404) for an unknown instance.
   */
  async report(namespace: string, service: string, id: string, reported: ReportedHealth, options: { readonly heartbeat: boolean }): Promise<InstanceState> {
    const entry = this.#require(namespace, service, id);
    const before = entry.state;
    const changed = before.reported?.status !== reported.status;
    entry.state = { ...before, reported, ...(options.heartbeat ? { lastHeartbeat: this.#clock.now() } : {}) };
    await this.#reevaluate(entry);
    // #reevaluate persists health changes; a new report that left health as it was is persisted here.
    if (changed && entry.state.health === before.health && this.#entries.get(instanceKey(namespace, service, id)) === entry) await this.#store.putInstance(entry.state);
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

  /**
   * Creates or updates an instance an external source owns (registration.source set), with the
   * health that source reports (e.g. a Kubernetes endpoint's `ready` condition). No TTL and no
   * checks apply; sweeps never remove it. Nothing is written or pushed when nothing changed.
   */
  async putSourced(reg: InstanceRegistration & { readonly source: InstanceSource }, health: HealthStatus, reason: string): Promise<InstanceState> {
    const key = instanceKey(reg.namespace, reg.service, reg.id);
    const old = this.#entries.get(key);
    const wanted: InstanceRegistration = { ...reg, ttlSeconds: 0, checks: [] };
    if (old && old.state.health === health && old.state.healthReason === reason && sameRegistration(old.state, wanted)) return old.state;
    if (old) for (const c of old.checks) c.timer?.cancel();
    const now = this.#clock.now();
    const state: InstanceState = {
      ...wanted,
      health,
      healthReason: reason,
      registeredAt: old?.state.registeredAt ?? now,
      lastHeartbeat: now,
      healthSince: old && old.state.health === health ? old.state.healthSince : now,
      checkResults: [],
    };
    await this.#store.putInstance(state);
    this.#entries.set(key, { state, checks: [], sourced: { health, reason } });
    if (!old) this.#log.info('instance mirrored', { instance: key, source: reg.source, address: reg.address, health });
    else if (old.state.health !== health) this.#log.info('instance health changed', { instance: key, from: old.state.health, to: health, reason });
    this.#changed();
    return state;
  }

  /** Removes an instance its source no longer lists; false when it was not there. */
  async removeSourced(namespace: string, service: string, id: string): Promise<boolean> {
    const key = instanceKey(namespace, service, id);
    const entry = this.#entries.get(key);
    if (!entry) return false;
    for (const c of entry.checks) c.timer?.cancel();
    this.#entries.delete(key);
    await this.#store.deleteInstance(namespace, service, id);
    this.#log.info('mirrored instance removed', { instance: key, source: entry.state.source });
    this.#changed();
    return true;
  }

  /** Evaluates TTLs and removes instances critical for longer than their grace period. */
  async sweep(): Promise<void> {
    const now = this.#clock.now();
    for (const [key, entry] of this.#entries) {
      const s = entry.state;
      if (s.source === undefined && s.health === 'critical' && now - s.healthSince > s.deregisterAfterSeconds * 1000) {
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

  /** Checks start pending (counted as passing); a sidecar's checks may resume from their stored results. */
  #newEntry(state: InstanceState, restore?: readonly CheckResult[], restoreAll = false): Entry {
    const now = this.#clock.now();
    const checks = state.checks.map((check, i): CheckState => {
      const r = restore?.[i];
      // Another replica's results stand too (restoreAll): it, or the leader, ran those checks.
      if (r && r.checkedBy === check.checkedBy && (restoreAll || check.checkedBy === 'sidecar')) return { status: r.status, reason: r.output, consecutive: 0, since: r.since };
      return { status: 'passing', reason: 'pending', consecutive: 0, since: now };
    });
    const entry: Entry = { state, checks };
    entry.state = { ...state, checkResults: this.#results(entry) };
    return entry;
  }

  #results(entry: Entry): CheckResult[] {
    return entry.checks.map((c, i) => ({ status: c.status, output: c.reason, checkedBy: entry.state.checks[i]?.checkedBy ?? 'control-plane', since: c.since }));
  }

  #startChecks(entry: Entry): void {
    // Only the leader probes: one probe per check interval, whatever the number of replicas.
    if (!this.#leader) return;
    entry.state.checks.forEach((check, i) => {
      // The instance's sidecar runs this one and reports it (reportChecks): no probe from here.
      if (check.checkedBy === 'sidecar') return;
      const run = async (): Promise<void> => {
        if (this.#closed || entry.checks[i] === undefined) return;
        const key = instanceKey(entry.state.namespace, entry.state.service, entry.state.id);
        if (this.#entries.get(key) !== entry) return; // replaced or removed
        const port = check.port ?? entry.state.ports[0]?.targetPort ?? 0;
        const result = await this.#probe(check, check.host ?? entry.state.address, port);
        this.#recordCheck(entry.checks[i], check, result);
        await this.#reevaluate(entry);
        if (this.#entries.get(key) === entry && !this.#closed && this.#leader) entry.checks[i].timer = this.#clock.setTimeout(run, check.intervalMs);
      };
      void run();
    });
  }

  #recordCheck(state: CheckState, check: HealthCheckSpec, result: ProbeResult): void {
    const wanted: HealthStatus = result.ok ? 'passing' : 'critical';
    if (wanted !== state.status && state.consecutive + 1 >= (result.ok ? check.healthyThreshold : check.unhealthyThreshold)) state.since = this.#clock.now();
    if (wanted === state.status) {
      state.consecutive = 0;
      state.reason = result.ok ? 'passing' : result.reason;
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
    let health: HealthStatus = entry.sourced?.health ?? 'passing';
    let reason = entry.sourced?.reason ?? 'passing';
    const silentMs = now - s.lastHeartbeat;
    // Only the leader judges TTLs: another replica may not have seen every heartbeat yet.
    if (this.#leader && s.ttlSeconds > 0 && silentMs > s.ttlSeconds * 1000) {
      health = 'critical';
      reason = `ttl expired: no heartbeat for ${(silentMs / 1000).toFixed(1)}s (ttl ${s.ttlSeconds}s)`;
    }
    for (const c of entry.checks) {
      if (c.status === 'critical' && health !== 'critical') {
        health = 'critical';
        reason = c.reason;
      }
    }
    // A check reporting `warning` (proxies still pick the instance) shows when nothing is critical.
    if (health === 'passing') {
      const warning = entry.checks.find((c) => c.status === 'warning');
      if (warning) {
        health = 'warning';
        reason = warning.reason;
      }
    }
    if (s.reported && SEVERITY[s.reported.status] > SEVERITY[health]) {
      health = s.reported.status;
      reason = s.reported.reason;
    }
    const results = this.#results(entry);
    const resultsChanged = !sameResults(s.checkResults, results);
    if (health === s.health) {
      if (resultsChanged) {
        // A check changed without changing the instance's health: kept (and shown), no push needed.
        entry.state = { ...entry.state, checkResults: results };
        if (this.#entries.get(instanceKey(s.namespace, s.service, s.id)) === entry) await this.#store.putInstance(entry.state);
      } else if (s.checkResults?.some((r, i) => r.output !== results[i].output)) entry.state = { ...entry.state, checkResults: results };
      // The first check results replace "checks pending"; no one needs notifying of a reason.
      if (reason !== s.healthReason && health === 'passing' && s.healthReason !== 'registered') entry.state = { ...entry.state, healthReason: reason };
      return;
    }
    entry.state = { ...s, health, healthReason: reason, healthSince: now, checkResults: results };
    this.#log.info('instance health changed', { instance: instanceKey(s.namespace, s.service, s.id), from: s.health, to: health, reason });
    if (this.#entries.get(instanceKey(s.namespace, s.service, s.id)) === entry) {
      await this.#store.putInstance(entry.state);
      this.#changed();
    }
  }

  #scheduleSweep(): void {
    if (this.#closed || !this.#leader) return;
    // The next sweep is scheduled before this one runs, so sweeps keep their cadence whatever a
    // store write costs; an overlap is harmless because each state change happens synchronously.
    this.#sweepTimer?.cancel();
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#scheduleSweep();
      this.sweep().catch((err) => this.#log.error('catalog sweep failed', { err }));
    }, this.#sweepMs);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

/** Same registration: every field a source sets, compared as JSON (they are plain data). */
function sameRegistration(state: InstanceState, reg: InstanceRegistration): boolean {
  const { health: _h, healthReason: _r, registeredAt: _a, lastHeartbeat: _l, healthSince: _s, checkResults: _c, ...stored } = state;
  return JSON.stringify(canonical(stored)) === JSON.stringify(canonical(reg));
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]));
  return value;
}

/** Results differ when a status or its time changed (outputs of an unchanged status are not persisted). */
function sameResults(a: readonly CheckResult[] | undefined, b: readonly CheckResult[]): boolean {
  if (!a || a.length !== b.length) return false;
  return a.every((r, i) => r.status === b[i].status && r.since === b[i].since && r.checkedBy === b[i].checkedBy);
}

export type { InstanceState };
