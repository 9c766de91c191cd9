// The slow path between a snapshot and the hot path: for each service port a balancer, kept across
// snapshots (so active-request counts and ejections survive) and updated with the new endpoints.
// Lookup by mesh host is one Map get per request.

import type { ProxySnapshot, ServicePortSnapshot, ServiceSnapshot } from '../../config/snapshot-types.ts';
import type { BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { Clock } from '../../lib/clock.ts';
import { createBalancer, type StatefulBalancer } from './balancer.ts';
import { RouteTable } from '../routing/route-table.ts';
import { HashPolicy } from './hashing/hash-policy.ts';
import { HASH_ALGORITHMS } from '../../config/kinds/backend-policy-balancing.ts';

export interface ServicePortEntry {
  readonly service: ServiceSnapshot;
  readonly port: ServicePortSnapshot;
  readonly policy: BackendPolicySpec;
  readonly balancer: StatefulBalancer;
  /** The routes that govern calls to this port; undefined when none is attached (plain balancing). */
  readonly routes: RouteTable | undefined;
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
  readonly #clock: Clock | undefined;

  constructor(clock?: Clock) {
    this.#clock = clock;
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
    for (const service of snapshot.services) {
      const ports = new Map<number, ServicePortEntry>();
      const lb = service.policy.loadBalancer;
      const hashPolicy = HASH_ALGORITHMS.includes(lb.algorithm) && lb.hashPolicy?.length ? new HashPolicy(lb.hashPolicy) : undefined;
      for (const port of service.ports) {
        const key = `${service.namespace}/${service.name}:${port.port}`;
        const balancer = this.#balancers.get(key) ?? createBalancer({ clock: this.#clock });
        balancer.update(port.endpoints, service.policy);
        balancers.set(key, balancer);
        ports.set(port.port, { service, port, policy: service.policy, balancer, routes: routeTables.get(key), hashPolicy });
      }
      const defaultPort = ports.get(80) ?? (ports.size === 1 ? [...ports.values()][0] : undefined);
      services.set(`${service.namespace}/${service.name}`, { service, ports, defaultPort });
    }
    this.#services = services;
    this.#balancers = balancers;
  }
}
