// Where to reach a sidecar's admin listener from elsewhere (the control plane's request lookups,
// `weft why --direct`): the address it reported, or, for a wildcard bind, the address it connected from.

const WILDCARD = new Set(['0.0.0.0', '[::]', '::', '']);

/**
 * The `HOST:PORT` to call for a proxy whose admin listener reported `admin` (absent: it did not say)
 * and whose control stream comes from `remote` (`HOST:PORT` as the control plane saw it). A wildcard
 * bind (`0.0.0.0`, `[::]`) is reached at the remote host; an IPv4-mapped IPv6 remote is unmapped and
 * an IPv6 host is bracketed. Undefined when no admin address was reported.
 */
export function adminAddress(p: { readonly admin?: string; readonly remote: string }): string | undefined {
  if (p.admin === undefined) return undefined;
  const colon = p.admin.lastIndexOf(':');
  const host = p.admin.slice(0, colon);
  if (!WILDCARD.has(host)) return p.admin;
  const remote = p.remote.slice(0, p.remote.lastIndexOf(':')).replace(/^::ffff:/, '');
  return `${remote.includes(':') ? `[${remote}]` : remote}:${p.admin.slice(colon + 1)}`;
}
