// DNS interface of the control plane, step 1 of a query: which weft name a question asks about.
// Pure: maps a query name (any case, with or without the trailing dot) to a zone and a name kind;
// answers.ts turns that into records from the catalog.

/**
 * A zone weft is authoritative for. `cluster.local` and `consul` always; a namespace (`default`)
 * for the search-path form `NAME.NAMESPACE` while that namespace has a service (declared or registered).
 */
export interface DnsZone {
  /** Lower case, no trailing dot: `cluster.local`, `consul`, `default`. */
  readonly name: string;
}

export const CLUSTER_ZONE: DnsZone = { name: 'cluster.local' };
export const CONSUL_ZONE: DnsZone = { name: 'consul' };

/** What a question names, once its zone is known. Every name but `refused` carries its zone (for the SOA). */
export type ParsedName =
  /** Outside every zone weft serves: REFUSED (RFC 1035 §4.1.1: the server will not answer for it). */
  | { readonly kind: 'refused' }
  /** In a zone but not a name weft gives out: NXDOMAIN. */
  | { readonly kind: 'nxdomain'; readonly zone: DnsZone }
  /** The zone's own name: SOA (and NODATA for other types). */
  | { readonly kind: 'apex'; readonly zone: DnsZone }
  /**
   * A name that exists only because names below it do (RFC 8020: an empty non-terminal such as
   * `svc.cluster.local` or `service.consul`): NODATA for every type.
   */
  | { readonly kind: 'empty'; readonly zone: DnsZone }
  /** `NAMESPACE.svc.cluster.local`: an empty non-terminal while the namespace holds instances, else NXDOMAIN. */
  | { readonly kind: 'namespace'; readonly zone: DnsZone; readonly namespace: string }
  /**
   * A service: its healthy instances' addresses (A/AAAA) and ports (SRV). `tag` (Consul's
   * `TAG.NAME.service.consul`) keeps the instances whose `version` label, or one of whose `tags`
   * label's comma-separated values, equals it; `portName` (RFC 2782 / Kubernetes
   * `_PORT._tcp.NAME...`) keeps that named port for SRV.
   */
  | {
      readonly kind: 'service';
      readonly zone: DnsZone;
      readonly namespace: string;
      readonly service: string;
      readonly tag?: string;
      readonly portName?: string;
    }
  /** `_tcp.NAME.NAMESPACE...`: an empty non-terminal if the service exists, else NXDOMAIN. */
  | { readonly kind: 'service-parent'; readonly zone: DnsZone; readonly namespace: string; readonly service: string }
  /** One instance, named as SRV targets name it: `LABEL.NAME.NAMESPACE.svc.cluster.local` (see instanceLabel). */
  | { readonly kind: 'instance'; readonly zone: DnsZone; readonly namespace: string; readonly service: string; readonly label: string }
  /** Consul's `HEX.addr.consul`: the address is the name (8 hex digits IPv4, 32 IPv6). */
  | { readonly kind: 'addr'; readonly zone: DnsZone; readonly address: string; readonly family: 4 | 6 };

/** A label as services and namespaces spell it (RFC 1123, lower case). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** `_http`, `_grpc-web`: an RFC 2782 service label (an underscore and a port name). */
const SERVICE_LABEL = /^_[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A Consul tag: instance label values may hold more than a DNS label allows, but not dots. */
const TAG_LABEL = /^[a-z0-9_]([-a-z0-9_]{0,62})?$/;

/**
 * Splits a query name into lower-case labels, without the root. Names are compared without case
 * (RFC 4343); answers echo the question's own spelling.
 */
export function nameLabels(qname: string): string[] {
  const n = qname.toLowerCase().replace(/\.$/, '');
  return n === '' || n === '.' ? [] : n.split('.');
}

/**
 * Which weft name `qname` is. `isNamespace(ns)` says whether the mesh has a service (declared,
 * or with instances) in a namespace: it decides whether `NAME.NAMESPACE` is served (the search-path form) and whether
 * `NAMESPACE.svc.cluster.local` exists.
 *
 * Zones and names (docs/concepts/dns.md):
 * - `cluster.local`: `NAME.NAMESPACE.svc`, `_PORT._tcp.NAME.NAMESPACE.svc`, `LABEL.NAME.NAMESPACE.svc`
 * - `consul`: `[TAG.]NAME.service[.NAMESPACE.ns]` (namespace `default` without `.ns`), `HEX.addr`
 * - `NAMESPACE` (search-path form, only for namespaces with instances): `NAME`, `_PORT._tcp.NAME`, `LABEL.NAME`
 */
export function parseQueryName(qname: string, isNamespace: (namespace: string) => boolean): ParsedName {
  const labels = nameLabels(qname);
  const n = labels.length;
  if (n >= 2 && labels[n - 2] === 'cluster' && labels[n - 1] === 'local') return parseCluster(labels.slice(0, n - 2), isNamespace);
  if (n >= 1 && labels[n - 1] === 'consul') return parseConsul(labels.slice(0, n - 1));
  if (n >= 1 && DNS_LABEL.test(labels[n - 1]) && isNamespace(labels[n - 1])) {
    const zone: DnsZone = { name: labels[n - 1] };
    if (n === 1) return { kind: 'apex', zone };
    return parseServiceTree(zone, labels.slice(0, n - 1), labels[n - 1]);
  }
  return { kind: 'refused' };
}

/** Below `cluster.local`: only `svc` is weft's; everything else (pods, other subtrees) does not exist. */
function parseCluster(rel: string[], isNamespace: (namespace: string) => boolean): ParsedName {
  const zone = CLUSTER_ZONE;
  if (rel.length === 0) return { kind: 'apex', zone };
  if (rel[rel.length - 1] !== 'svc') return { kind: 'nxdomain', zone };
  if (rel.length === 1) return { kind: 'empty', zone };
  const namespace = rel[rel.length - 2];
  if (!DNS_LABEL.test(namespace)) return { kind: 'nxdomain', zone };
  if (rel.length === 2) return isNamespace(namespace) ? { kind: 'namespace', zone, namespace } : { kind: 'nxdomain', zone };
  return parseServiceTree(zone, rel.slice(0, rel.length - 2), namespace);
}

/** `below` ends with the service name: `[NAME]`, `[_PORT, _tcp, NAME]`, `[_tcp, NAME]` or `[LABEL, NAME]`. */
function parseServiceTree(zone: DnsZone, below: string[], namespace: string): ParsedName {
  const service = below[below.length - 1];
  if (!DNS_LABEL.test(service)) return { kind: 'nxdomain', zone };
  if (below.length === 1) return { kind: 'service', zone, namespace, service };
  if (below.length === 2) {
    if (below[0] === '_tcp') return { kind: 'service-parent', zone, namespace, service };
    if (DNS_LABEL.test(below[0])) return { kind: 'instance', zone, namespace, service, label: below[0] };
    return { kind: 'nxdomain', zone };
  }
  // Every weft protocol rides on TCP, so `_udp` names nothing.
  if (below.length === 3 && below[1] === '_tcp' && SERVICE_LABEL.test(below[0])) {
    return { kind: 'service', zone, namespace, service, portName: below[0].slice(1) };
  }
  return { kind: 'nxdomain', zone };
}

/** Below `consul`: `[TAG.]NAME.service[.NAMESPACE.ns]` and `HEX.addr`, as Consul's DNS interface names them. */
function parseConsul(rel: string[]): ParsedName {
  const zone = CONSUL_ZONE;
  if (rel.length === 0) return { kind: 'apex', zone };
  let namespace = 'default';
  let rest = rel;
  if (rest.length >= 2 && rest[rest.length - 1] === 'ns') {
    namespace = rest[rest.length - 2];
    if (!DNS_LABEL.test(namespace)) return { kind: 'nxdomain', zone };
    rest = rest.slice(0, rest.length - 2);
  }
  const last = rest[rest.length - 1];
  if (last === 'addr' && rest.length === rel.length) {
    if (rest.length === 1) return { kind: 'empty', zone };
    if (rest.length === 2) {
      const address = hexToAddress(rest[0]);
      return address ? { kind: 'addr', zone, ...address } : { kind: 'nxdomain', zone };
    }
    return { kind: 'nxdomain', zone };
  }
  if (last !== 'service') return { kind: 'nxdomain', zone };
  if (rest.length === 1) return { kind: 'empty', zone };
  const service = rest[rest.length - 2];
  if (!DNS_LABEL.test(service)) return { kind: 'nxdomain', zone };
  if (rest.length === 2) return { kind: 'service', zone, namespace, service };
  if (rest.length === 3 && TAG_LABEL.test(rest[0])) return { kind: 'service', zone, namespace, service, tag: rest[0] };
  return { kind: 'nxdomain', zone };
}

/** Consul's address encoding: `c000020a` is 192.0.2.10; 32 hex digits are an IPv6 address. */
export function hexToAddress(hex: string): { address: string; family: 4 | 6 } | undefined {
  if (/^[0-9a-f]{8}$/.test(hex)) {
    return { address: [0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.'), family: 4 };
  }
  if (/^[0-9a-f]{32}$/.test(hex)) {
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) groups.push(parseInt(hex.slice(i, i + 4), 16).toString(16));
    return { address: groups.join(':'), family: 6 };
  }
  return undefined;
}

/** The inverse of hexToAddress, for SRV targets in the `consul` zone; undefined for a non-IP. */
export function addressToHex(address: string, family: 4 | 6): string {
  if (family === 4) return address.split('.').map((o) => Number(o).toString(16).padStart(2, '0')).join('');
  return expandIpv6(address).map((g) => g.padStart(4, '0')).join('');
}

/** `fd00::1` → eight groups; also takes an embedded IPv4 tail (`::ffff:10.0.0.1`). */
function expandIpv6(address: string): string[] {
  let a = address.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b1, b2, b3, b4] = v4.slice(1).map(Number);
    a = a.slice(0, v4.index) + ((b1 << 8) | b2).toString(16) + ':' + ((b3 << 8) | b4).toString(16);
  }
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  if (tail === undefined) return h;
  const t = tail ? tail.split(':') : [];
  return [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
}

/**
 * The label that names one instance under its service (SRV targets in `cluster.local` and the
 * search-path zones): its id when that is a DNS label, else its address with `.`/`:` as `-`
 * (`10-0-0-7`, as Kubernetes names pods without a hostname). Lower case.
 */
export function instanceLabel(id: string, address: string): string {
  const lower = id.toLowerCase();
  if (DNS_LABEL.test(lower)) return lower;
  return address.toLowerCase().replace(/[.:]/g, '-').replace(/^-+|-+$/g, '').slice(0, 63) || 'instance';
}
