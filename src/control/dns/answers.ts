// DNS interface of the control plane, step 2 of a query: the records that answer one question.
// Pure: a parsed name (names.ts), the question type and the catalog view in, the answer, authority
// and additional sections and the RCODE out. handler.ts wraps them in a message.

import type { Answer, SoaAnswer } from 'dns-packet';
import type { DnsCatalogView, DnsInstance } from './catalog-view.ts';
import { addressToHex, CLUSTER_ZONE, CONSUL_ZONE, parseQueryName, type DnsZone, type ParsedName } from './names.ts';

/** The RCODEs an answer can carry (RFC 1035 §4.1.1); NODATA is NOERROR with no answer records. */
export type AnswerRcode = 'NOERROR' | 'NXDOMAIN' | 'REFUSED';

export interface BuiltAnswer {
  readonly rcode: AnswerRcode;
  /** False for REFUSED: weft is not an authority for names outside its zones. */
  readonly authoritative: boolean;
  readonly answers: Answer[];
  /** The zone's SOA for NXDOMAIN and NODATA (RFC 2308 §3), so resolvers cache the negative answer. */
  readonly authorities: Answer[];
  /** A/AAAA of SRV targets (RFC 2782: "the additional data section ... may contain the A records"). */
  readonly additionals: Answer[];
}

export interface AnswerOptions {
  /** TTL of every record, and the SOA minimum that bounds negative caching (RFC 2308 §5), in seconds. */
  readonly ttlSeconds: number;
  /**
   * Round-robin offset: the answer records are rotated by this much so that clients that take the
   * first address spread over the instances (as CoreDNS's loadbalance plugin does). 0 keeps order.
   */
  readonly rotation?: number;
}

/** Question types weft answers with records; all others get NODATA on names that exist. */
const ADDRESS_TYPES = new Set(['A', 'AAAA', 'ANY']);

/**
 * Answers one question (`qname` as the client spelled it, `qtype` as dns-packet names it: `A`,
 * `SRV`, `UNKNOWN_65280` …). Only healthy (passing or warning) instances are answered; a name
 * that exists but has none, or none of the asked type, gets NODATA (NOERROR, empty answer, SOA).
 */
export function buildAnswer(qname: string, qtype: string, view: DnsCatalogView, options: AnswerOptions): BuiltAnswer {
  const parsed = parseQueryName(qname, (ns) => view.hasNamespace(ns));
  const owner = qname.replace(/\.$/, '');
  const ttl = options.ttlSeconds;
  if (parsed.kind === 'refused') return { rcode: 'REFUSED', authoritative: false, answers: [], authorities: [], additionals: [] };
  const soa = soaRecord(parsed.zone, view.serial(), ttl);
  const nxdomain = (): BuiltAnswer => ({ rcode: 'NXDOMAIN', authoritative: true, answers: [], authorities: [soa], additionals: [] });
  const records = (answers: Answer[], additionals: Answer[] = []): BuiltAnswer =>
    answers.length === 0
      ? { rcode: 'NOERROR', authoritative: true, answers: [], authorities: [soa], additionals: [] }
      : { rcode: 'NOERROR', authoritative: true, answers: rotate(answers, options.rotation ?? 0), authorities: [], additionals };

  switch (parsed.kind) {
    case 'nxdomain':
      return nxdomain();
    case 'apex':
      return records(qtype === 'SOA' || qtype === 'ANY' ? [{ ...soa, name: owner }] : []);
    case 'empty':
      return records([]);
    case 'namespace':
      return view.hasNamespace(parsed.namespace) ? records([]) : nxdomain();
    case 'service-parent':
      return view.instances(parsed.namespace, parsed.service) ? records([]) : nxdomain();
    case 'addr': {
      const family = parsed.family === 4 ? 'A' : 'AAAA';
      return records(qtype === family || qtype === 'ANY' ? [addressRecord(owner, parsed.address, parsed.family, ttl)] : []);
    }
    case 'instance': {
      const all = (view.instances(parsed.namespace, parsed.service) ?? []).filter((i) => i.label === parsed.label);
      if (all.length === 0) return nxdomain();
      return records(ADDRESS_TYPES.has(qtype) ? addressRecords(owner, all.filter((i) => i.healthy), qtype, ttl) : []);
    }
    case 'service':
      return serviceAnswer(parsed, owner, qtype, view, ttl, records, nxdomain);
  }
}

function serviceAnswer(
  parsed: Extract<ParsedName, { kind: 'service' }>,
  owner: string,
  qtype: string,
  view: DnsCatalogView,
  ttl: number,
  records: (answers: Answer[], additionals?: Answer[]) => BuiltAnswer,
  nxdomain: () => BuiltAnswer,
): BuiltAnswer {
  const members = view.instances(parsed.namespace, parsed.service);
  // A service exists while it is declared or has instances in any health: NXDOMAIN would tell
  // resolvers that nothing below it exists either (RFC 8020), while this is an absence of healthy ones.
  if (!members) return nxdomain();
  let all = members;
  // A tag or a port name exists while some instance (in any health) carries it.
  if (parsed.tag !== undefined) {
    all = all.filter((i) => i.tags.has(parsed.tag as string));
    if (all.length === 0) return nxdomain();
  }
  if (parsed.portName !== undefined) {
    all = all.filter((i) => i.ports.some((p) => p.name === parsed.portName));
    if (all.length === 0) return nxdomain();
  }
  const healthy = all.filter((i) => i.healthy);
  // `_PORT._tcp.NAME` names an SRV record set only.
  if (ADDRESS_TYPES.has(qtype) && parsed.portName === undefined) return records(addressRecords(owner, healthy, qtype, ttl));
  if (qtype !== 'SRV') return records([]);
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  const seen = new Set<string>();
  const glued = new Set<string>();
  for (const inst of healthy) {
    const target = srvTarget(parsed.zone, parsed.namespace, parsed.service, inst);
    for (const p of inst.ports) {
      if (parsed.portName !== undefined && p.name !== parsed.portName) continue;
      // RFC 2181 §5: no duplicate records in a set (two instances may share address and port).
      const key = `${target.toLowerCase()} ${p.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      answers.push({ name: owner, type: 'SRV', class: 'IN', ttl, data: { priority: 0, weight: Math.min(inst.weight, 65535), port: p.port, target } });
    }
    if (inst.family !== undefined && !glued.has(target.toLowerCase())) {
      glued.add(target.toLowerCase());
      additionals.push(addressRecord(target, inst.address, inst.family, ttl));
    }
  }
  return records(answers, additionals);
}

/**
 * The SRV target of an instance, a name this server also answers A/AAAA for: in `consul`,
 * Consul's `HEX.addr.consul`; elsewhere `LABEL.NAME.NAMESPACE.svc.cluster.local` (or
 * `LABEL.NAME.NAMESPACE` in the search-path zone). An instance registered with a host name
 * instead of an IP address is targeted at that host name.
 */
export function srvTarget(zone: DnsZone, namespace: string, service: string, inst: DnsInstance): string {
  if (inst.family === undefined) return inst.address.replace(/\.$/, '');
  if (zone === CONSUL_ZONE) return `${addressToHex(inst.address, inst.family)}.addr.consul`;
  if (zone === CLUSTER_ZONE) return `${inst.label}.${service}.${namespace}.svc.cluster.local`;
  return `${inst.label}.${service}.${namespace}`;
}

/** A and/or AAAA records of distinct addresses (two instances on one host give one record). */
function addressRecords(owner: string, instances: readonly DnsInstance[], qtype: string, ttl: number): Answer[] {
  const out: Answer[] = [];
  const seen = new Set<string>();
  for (const inst of instances) {
    if (inst.family === undefined || seen.has(inst.address)) continue;
    if ((qtype === 'A' && inst.family !== 4) || (qtype === 'AAAA' && inst.family !== 6)) continue;
    seen.add(inst.address);
    out.push(addressRecord(owner, inst.address, inst.family, ttl));
  }
  return out;
}

function addressRecord(name: string, address: string, family: 4 | 6, ttl: number): Answer {
  return { name, type: family === 4 ? 'A' : 'AAAA', class: 'IN', ttl, data: address };
}

/**
 * The zone's SOA (RFC 1035 §3.3.13). Its TTL and MINIMUM are the answer TTL, so a negative answer
 * is cached no longer than a positive one (RFC 2308 §5: the lesser of the two bounds it).
 */
export function soaRecord(zone: DnsZone, serial: number, ttl: number): SoaAnswer {
  return {
    name: zone.name,
    type: 'SOA',
    class: 'IN',
    ttl,
    data: { mname: `ns.dns.${zone.name}`, rname: `hostmaster.${zone.name}`, serial, refresh: 7200, retry: 1800, expire: 86400, minimum: ttl },
  };
}

function rotate<T>(list: T[], by: number): T[] {
  if (list.length < 2) return list;
  const k = by % list.length;
  return k === 0 ? list : [...list.slice(k), ...list.slice(0, k)];
}
