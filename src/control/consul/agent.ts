// The Consul agent's state over weft's catalog: the checks of services registered through the
// Consul API (IDs, names, TTL check results), folding TTL results into the instance's reported
// health, a sweep that lets TTLs lapse, and the change index that blocking queries wait on.

import type { HealthStatus, InstanceState } from '../../config/catalog-types.ts';
import type { Clock, Timer } from '../../lib/clock.ts';
import type { Logger } from '../../lib/log.ts';
import { instanceKey, type Catalog } from '../catalog/catalog.ts';
import { ANY_SERVICE, ChangeIndex } from './change-index.ts';
import { notFound } from './errors.ts';
import { WeftError } from '../../lib/errors.ts';
import { CONSUL_NAMESPACE, derivedChecks, type ConsulCheckDef, type ConsulRegistration } from './mapping.ts';

const SEVERITY: Readonly<Record<HealthStatus, number>> = { passing: 0, warning: 1, critical: 2 };

interface TtlState {
  status: HealthStatus;
  output: string;
  /** When the check was last updated (pass/warn/fail/update or registered), ms. */
  updatedAt: number;
}

interface ConsulRecord {
  readonly service: string;
  readonly id: string;
  readonly checks: readonly ConsulCheckDef[];
  readonly ttl: Map<string, TtlState>;
  /** The status last reported to the catalog (undefined: none reported). */
  reported?: HealthStatus;
  /**
   * Made from a stored instance, not a Consul registration of this run: its TTL is the instance's
   * own (weft heartbeats count), so the sweep leaves it to the catalog.
   */
  readonly derived: boolean;
  /** What the record was made for (the instance's TTL and active checks): a registration elsewhere that changes them voids the record. */
  readonly shape: string;
}

/** The part of an instance its Consul checks are made from. */
function shapeOf(inst: Pick<InstanceState, 'ttlSeconds' | 'checks'>): string {
  return JSON.stringify([inst.ttlSeconds, inst.checks]);
}

/** One check as Consul shows it (health/service, agent/checks). */
export interface CheckView {
  readonly def: ConsulCheckDef;
  readonly status: HealthStatus;
  readonly output: string;
}

export interface ConsulAgentOptions {
  readonly catalog: Catalog;
  readonly clock: Clock;
  readonly log: Logger;
  /** How often lapsed TTLs are looked for, ms (default 1000). */
  readonly sweepMs?: number;
}

export const TTL_EXPIRED = 'TTL expired';

/**
 * Consul's agent endpoints on weft's catalog. Services registered here keep their Consul check
 * definitions in memory; after a control-plane restart their checks are derived from the stored
 * instance (IDs `service:<ID>` / `service:<ID>:<n>`), which is what Consul would name them too
 * unless the registration gave its own CheckIDs.
 */
export class ConsulAgent {
  readonly #catalog: Catalog;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #sweepMs: number;
  readonly #records = new Map<string, ConsulRecord>();
  readonly index: ChangeIndex;
  readonly #unsubscribe: () => void;
  #refreshQueued = false;
  #sweepTimer?: Timer;
  #closed = false;

  constructor(options: ConsulAgentOptions) {
    this.#catalog = options.catalog;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#sweepMs = options.sweepMs ?? 1000;
    this.index = new ChangeIndex(options.clock);
    this.#unsubscribe = this.#catalog.subscribe(() => this.#queueRefresh());
    this.refresh();
    this.#scheduleSweep();
  }

  close(): void {
    this.#closed = true;
    this.#sweepTimer?.cancel();
    this.#unsubscribe();
    this.index.close();
  }

  /** Instances Consul shows: every instance in weft's `default` namespace. */
  instances(service?: string): InstanceState[] {
    return this.#catalog
      .list()
      .filter((i) => i.namespace === CONSUL_NAMESPACE && (service === undefined || i.service === service))
      .sort((a, b) => a.service.localeCompare(b.service) || a.id.localeCompare(b.id));
  }

  /** The instance with this Consul service ID (weft instance id), if any. */
  instanceById(id: string): InstanceState | undefined {
    return this.instances().find((i) => i.id === id);
  }

  /** PUT /v1/agent/service/register: creates or replaces the instance; TTL checks keep their status across a re-registration. */
  async register(reg: ConsulRegistration): Promise<void> {
    const r = reg.registration;
    // One service ID names one service: registering it under another name moves it (as Consul does).
    for (const other of this.instances().filter((i) => i.id === r.id && i.service !== r.service)) await this.deregister(other.id, other.service);
    const key = instanceKey(r.namespace, r.service, r.id);
    const old = this.#records.get(key);
    const now = this.#clock.now();
    const ttl = new Map<string, TtlState>();
    for (const def of reg.checks) {
      if (def.type !== 'ttl') continue;
      const kept = old?.ttl.get(def.id);
      ttl.set(def.id, kept ? { ...kept, updatedAt: now } : { status: def.initialStatus, output: def.initialOutput, updatedAt: now });
    }
    const record: ConsulRecord = { service: r.service, id: r.id, checks: reg.checks, ttl, derived: false, shape: shapeOf(r) };
    const reported = this.#aggregate(record, now);
    record.reported = reported?.status;
    this.#records.set(key, record);
    await this.#catalog.register(r, reported ? { reported } : {});
    this.#queueRefresh();
  }

  /** PUT /v1/agent/service/deregister/:id. Throws 404 with Consul's text for an unknown ID. */
  async deregister(id: string, service?: string): Promise<void> {
    const inst = service === undefined ? this.instanceById(id) : this.#catalog.get(CONSUL_NAMESPACE, service, id);
    if (!inst) throw notFound(`Unknown service ID ${JSON.stringify(id)}. Ensure that the service ID is passed, not the service name.`);
    this.#records.delete(instanceKey(inst.namespace, inst.service, inst.id));
    await this.#catalog.deregister(inst.namespace, inst.service, inst.id);
  }

  /**
   * PUT /v1/agent/check/pass|warn|fail/:id and /v1/agent/check/update/:id: sets a TTL check's
   * status and output and restarts its TTL. Throws 404 for an unknown check ID and 500 (Consul's
   * answer) for a check that has no TTL.
   */
  async updateTtlCheck(checkId: string, status: HealthStatus, output: string): Promise<void> {
    const found = this.#findCheck(checkId);
    if (!found) throw notFound(`Unknown check ID ${JSON.stringify(checkId)}. Ensure that the check ID is passed, not the check name.`);
    const { record, def } = found;
    if (def.type !== 'ttl') throw new WeftError('WEFT_ERR_CONSUL_NOT_TTL', `CheckID ${JSON.stringify(checkId)} does not have associated TTL`, 500);
    const now = this.#clock.now();
    const before = record.ttl.get(def.id);
    record.ttl.set(def.id, { status, output, updatedAt: now });
    const reported = this.#aggregate(record, now)!;
    record.reported = reported.status;
    await this.#catalog.report(CONSUL_NAMESPACE, record.service, record.id, reported, { heartbeat: true });
    if (before?.status !== status) this.#queueRefresh();
  }

  /** The checks Consul shows for an instance, in registration order. */
  checks(inst: InstanceState): CheckView[] {
    const record = this.#recordFor(inst);
    const active = inst.checkResults ?? [];
    const now = this.#clock.now();
    const views = record.checks.map((def): CheckView => {
      if (def.type === 'ttl') {
        const t = record.ttl.get(def.id) ?? { status: def.initialStatus, output: '', updatedAt: inst.lastHeartbeat };
        const updatedAt = record.derived ? Math.max(t.updatedAt, inst.lastHeartbeat) : t.updatedAt;
        if (now - updatedAt > def.ttlMs!) return { def, status: 'critical', output: t.output ? `${TTL_EXPIRED} (last output before timeout follows): ${t.output}` : TTL_EXPIRED };
        return { def, status: t.status, output: t.output };
      }
      const a = active[def.activeIndex!];
      // Results appear with the first evaluation; until then a check counts as passing, as in the catalog.
      if (!a) return { def, status: 'passing', output: '' };
      return { def, status: a.status, output: a.output === 'pending' ? '' : a.output };
    });
    return views;
  }

  /** The TTL checks' worst status (a lapsed TTL counts critical), with a reason for weft's healthReason. */
  #aggregate(record: ConsulRecord, now: number): { status: HealthStatus; reason: string } | undefined {
    let worst: { status: HealthStatus; reason: string } | undefined;
    for (const def of record.checks) {
      if (def.type !== 'ttl') continue;
      const t = record.ttl.get(def.id)!;
      const expired = now - t.updatedAt > def.ttlMs!;
      const status: HealthStatus = expired ? 'critical' : t.status;
      const why = expired ? TTL_EXPIRED : t.output || status;
      if (!worst || SEVERITY[status] > SEVERITY[worst.status]) worst = { status, reason: `consul check ${def.id}: ${why}` };
    }
    return worst;
  }

  /** The record of an instance; one is made from the stored instance for those registered elsewhere (or before a restart). */
  #recordFor(inst: InstanceState): ConsulRecord {
    const key = instanceKey(inst.namespace, inst.service, inst.id);
    const existing = this.#records.get(key);
    if (existing && existing.shape === shapeOf(inst)) return existing;
    const checks = derivedChecks(inst);
    const ttl = new Map<string, TtlState>();
    const status: HealthStatus = inst.reported?.status ?? 'passing';
    for (const def of checks) if (def.type === 'ttl') ttl.set(def.id, { status, output: '', updatedAt: inst.lastHeartbeat });
    const record: ConsulRecord = { service: inst.service, id: inst.id, checks, ttl, reported: inst.reported?.status, derived: true, shape: shapeOf(inst) };
    this.#records.set(key, record);
    return record;
  }

  #findCheck(checkId: string): { record: ConsulRecord; def: ConsulCheckDef } | undefined {
    for (const inst of this.instances()) {
      const record = this.#recordFor(inst);
      const def = record.checks.find((c) => c.id === checkId);
      if (def) return { record, def };
    }
    return undefined;
  }

  /** Reports lapsed TTLs to the catalog and forgets records of instances that left it. */
  async sweep(): Promise<void> {
    const now = this.#clock.now();
    for (const [key, record] of this.#records) {
      if (!this.#catalog.get(CONSUL_NAMESPACE, record.service, record.id)) {
        this.#records.delete(key);
        continue;
      }
      if (record.derived) continue;
      const reported = this.#aggregate(record, now);
      if (!reported || reported.status === record.reported) continue;
      record.reported = reported.status;
      await this.#catalog.report(CONSUL_NAMESPACE, record.service, record.id, reported, { heartbeat: false });
      this.#queueRefresh();
    }
  }

  /** Recomputes each service's fingerprint (instances, addresses, tags, health, check statuses) and moves the change index. */
  refresh(): void {
    const byService = new Map<string, string[]>();
    for (const inst of this.instances()) {
      const parts = byService.get(inst.service) ?? [];
      const checks = this.checks(inst).map((c) => `${c.def.id}=${c.status}`).join(',');
      parts.push(JSON.stringify([inst.id, inst.address, inst.ports, inst.labels, inst.weight, inst.health, checks]));
      byService.set(inst.service, parts);
    }
    this.index.update(new Map([...byService].map(([s, parts]) => [s, parts.join('\n')])));
  }

  #queueRefresh(): void {
    if (this.#refreshQueued || this.#closed) return;
    this.#refreshQueued = true;
    // Several catalog changes in one turn (a registration and its health) make one new index.
    queueMicrotask(() => {
      this.#refreshQueued = false;
      if (!this.#closed) this.refresh();
    });
  }

  #scheduleSweep(): void {
    if (this.#closed) return;
    this.#sweepTimer = this.#clock.setTimeout(() => {
      this.#scheduleSweep();
      this.sweep().catch((err) => this.#log.error('consul ttl sweep failed', { err: String(err) }));
    }, this.#sweepMs);
  }
}

export { ANY_SERVICE };
