// The slow path between a snapshot and the hot path: for each service port a balancer, kept across
// snapshots (so active-request counts and ejections survive) and updated with the new endpoints.
// Lookup by mesh host is one Map get per request.

import type { ProxySnapshot, ServicePortSnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { Clock } from '../../lib/clock.ts';
import type { Counter, Gauge } from '../../lib/metrics.ts';
import { createBalancer, type EndpointStats, type StatefulBalancer } from './balancer.ts';
import type { EjectionObserver } from './outlier/detector.ts';

/** The proxy metrics outlier detection reports to (proxy-metrics.ts). */
export interface OutlierMetrics {
  readonly outlierEjections: Counter;
  readonly outlierEjectionsActive: Gauge;
}

/** What the admin config dump shows of one service port's balancer. */
export interface PortBalancerStats {
  readonly service: string;
  readonly port: number;
  readonly endpoints: EndpointStats[];
}
import { RouteTable } from '../routing/route-table.ts';
import { CircuitBreaker } from '../resilience/circuit-breaker/circuit-breaker.ts';

/** This sidecar's own locality, for locality-aware balancing of its calls (see balance/locality/). */
export interface ClientLocality {
  /** The sidecar's instance labels (topology.kubernetes.io/region and …/zone among them). */
  readonly labels: Readonly<Record<string, string>>;
  /** weft_proxy_locality_requests_total, labelled destination_service and level. */
  readonly requests?: Counter;
}
import { HashPolicy } from './hashing/hash-policy.ts';
import { HASH_ALGORITHMS } from '../../config/kinds/backend-policy-balancing.ts';

export interface ServicePortEntry {
  readonly service: ServiceSnapshot;
  /** `name.namespace` of the service, made once per snapshot (the metrics' destination_service, the fates' destination). */
  readonly destination: string;
  readonly port: ServicePortSnapshot;
  readonly policy: BackendPolicySpec;
  readonly balancer: StatefulBalancer;
  /** The routes that govern calls to this port; undefined when none is attached (plain balancing). */
  readonly routes: RouteTable | undefined;
  /** The port's circuit breaker (BackendPolicy circuitBreaker), kept across snapshots like the balancer. */
  readonly breaker: CircuitBreaker;
  /** ring-hash/maglev: the policy's hashPolicy, compiled; undefined for other algorithms or none given. */
  readonly hashPolicy: HashPolicy | undefined;
}

export interface ServiceEntry {
  readonly service: ServiceSnapshot;
  readonly ports: ReadonlyMap<number, ServicePortEntry>;
  /** The port used when the request names none: 80 if served, else the only port. */
  readonly defaultPort: ServicePortEntry | undefined;
}

export class ServiceTable {
  #services = new Map<string, ServiceEntry>();
  #balancers = new Map<string, StatefulBalancer>();
  #breakers = new Map<string, CircuitBreaker>();
  readonly #clock: Clock | undefined;
  readonly #locality: ClientLocality | undefined;
  readonly #metrics: OutlierMetrics | undefined;

  constructor(clock?: Clock, locality?: ClientLocality, metrics?: OutlierMetrics) {
    this.#clock = clock;
    this.#locality = locality;
    this.#metrics = metrics;
  }

  /** Each service port's endpoints as its balancer sees them (ejections, slow start), for /config. */
  endpointStats(): PortBalancerStats[] {
    const out: PortBalancerStats[] = [];
    for (const s of this.#services.values()) {
      for (const p of s.ports.values()) out.push({ service: `${s.service.name}.${s.service.namespace}`, port: p.port.port, endpoints: p.balancer.endpointStats() });
    }
    return out;
  }

  #observer(destination: string): EjectionObserver | undefined {
    const m = this.#metrics;
    if (m === undefined) return undefined;
    const labels = { destination_service: destination };
    return {
      ejected: (reason) => {
        m.outlierEjections.inc({ destination_service: destination, reason });
        m.outlierEjectionsActive.inc(labels);
      },
      ended: () => m.outlierEjectionsActive.dec(labels),
    };
  }

  lookup(name: string, namespace: string): ServiceEntry | undefined {
    return this.#services.get(`${namespace}/${name}`);
  }

  /** Every `address:port` in the snapshot, for pruning pooled connections. */
  endpointKeys(): Set<string> {
    const keys = new Set<string>();
    for (const s of this.#services.values()) for (const p of s.ports.values()) for (const e of p.port.endpoints) keys.add(`${e.address}:${e.port}`);
    return keys;
  }

  entries(): IterableIterator<ServiceEntry> {
    return this.#services.values();
  }

  /** Puts a snapshot in force. Throws (changing nothing) if a route cannot be compiled: the proxy NACKs. */
  update(snapshot: ProxySnapshot): void {
    // Routes first: a route that does not compile must leave the balancers and tables as they are.
    const routeTables = new Map<string, RouteTable>();
    for (const service of snapshot.services) {
      if (!service.routes?.length) continue;
      for (const port of service.ports) {
        const table = RouteTable.compile(service.routes, port.port);
        if (table.size > 0) routeTables.set(`${service.namespace}/${service.name}:${port.port}`, table);
      }
    }
    const services = new Map<string, ServiceEntry>();
    const balancers = new Map<string, StatefulBalancer>();
    const breakers = new Map<string, CircuitBreaker>();
    for (const service of snapshot.services) {
      const ports = new Map<number, ServicePortEntry>();
      const lb = service.policy.loadBalancer;
      const destination = `${service.name}.${service.namespace}`;
      const hashPolicy = HASH_ALGORITHMS.includes(lb.algorithm) && lb.hashPolicy?.length ? new HashPolicy(lb.hashPolicy) : undefined;
      for (const port of service.ports) {
        const key = `${service.namespace}/${service.name}:${port.port}`;
        const balancer = this.#balancers.get(key) ?? createBalancer({ clock: this.#clock, locality: this.#localityFor(service), observer: this.#observer(destination) });
        balancer.update(port.endpoints, service.policy);
        balancers.set(key, balancer);
        // Its counts survive the snapshot: requests in flight release into the same object.
        const breaker = this.#breakers.get(key) ?? new CircuitBreaker();
        breaker.update(service.policy.circuitBreaker, port.endpoints);
        breakers.set(key, breaker);
        ports.set(port.port, { service, destination, port, policy: service.policy, balancer, routes: routeTables.get(key), breaker, hashPolicy });
      }
      const defaultPort = ports.get(80) ?? (ports.size === 1 ? [...ports.values()][0] : undefined);
      services.set(`${service.namespace}/${service.name}`, { service, ports, defaultPort });
    }
    // A port that left takes its ejections (and their gauge) and timers with it.
    for (const [key, balancer] of this.#balancers) if (balancers.get(key) !== balancer) balancer.close();
    this.#services = services;
    this.#balancers = balancers;
    this.#breakers = breakers;
  }

  #localityFor(service: ServiceSnapshot): { labels: Readonly<Record<string, string>>; counter?: (level: number) => { inc(): void } } | undefined {
    const l = this.#locality;
    if (l === undefined) return undefined;
    const requests = l.requests;
    if (requests === undefined) return { labels: l.labels };
    const destination = `${service.name}.${service.namespace}`;
    // Bound once per level and picker build, so a pick counts with one addition.
    return { labels: l.labels, counter: (level) => requests.bind({ destination_service: destination, level: String(level) }) };
  }
}
