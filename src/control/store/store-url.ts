// `weft control --store`: which Store backend the control plane opens. `sqlite` (the default, a file
// in the data dir) or `etcd://HOST:PORT[,HOST:PORT…][/PREFIX]`, parsed here before anything opens.

import { WeftError } from '../../lib/errors.ts';

export const STORE_URL_INVALID = 'WEFT_ERR_STORE_URL';

/** The key prefix every weft key lives under in etcd when the URL gives none. */
export const DEFAULT_ETCD_PREFIX = '/weft';

export type StoreLocation =
  | { readonly backend: 'sqlite' }
  | {
      readonly backend: 'etcd';
      /** `HOST:PORT` as given (IPv6 in brackets), for messages. */
      readonly addresses: readonly string[];
      /** `http://HOST:PORT`, what the etcd client dials. */
      readonly endpoints: readonly string[];
      /** Key prefix without a trailing slash, e.g. `/weft` or `/weft/staging`. */
      readonly prefix: string;
    };

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)$/;
const PREFIX_SEGMENT = /^[A-Za-z0-9._-]+$/;

function invalid(value: string, why: string): WeftError {
  return new WeftError(STORE_URL_INVALID, `${JSON.stringify(value)}: ${why} (want sqlite or etcd://HOST:PORT[,HOST:PORT…][/PREFIX])`, 400);
}

/**
 * Parses a store location. Throws WEFT_ERR_STORE_URL (400) naming what is wrong: an unknown
 * scheme, a missing or out-of-range port, an empty host, credentials or query strings (not
 * supported: use etcd's own TLS/auth set-up, see docs/operations/README.md), or a prefix with characters
 * other than letters, digits, `.`, `_`, `-` between slashes. Plain `http` only: `etcds://` (TLS) is
 * not implemented yet.
 */
export function parseStoreUrl(value: string): StoreLocation {
  if (value === 'sqlite') return { backend: 'sqlite' };
  const m = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(\/[^?#]*)?([?#].*)?$/i.exec(value);
  if (!m) throw invalid(value, 'not a URL');
  const [, scheme, hostList, path, rest] = m;
  if (scheme.toLowerCase() !== 'etcd') throw invalid(value, `unknown store scheme ${JSON.stringify(scheme)}`);
  if (rest !== undefined) throw invalid(value, 'query strings and fragments are not supported');
  if (hostList.includes('@')) throw invalid(value, 'credentials in the URL are not supported');
  const addresses: string[] = [];
  for (const part of hostList.split(',')) {
    const hp = /^(.*):(\d{1,5})$/.exec(part);
    if (!hp) throw invalid(value, `${JSON.stringify(part)} is not HOST:PORT`);
    const [, host, portText] = hp;
    const port = Number(portText);
    if (!HOST.test(host)) throw invalid(value, `${JSON.stringify(host)} is not a host name or IP address`);
    if (port < 1 || port > 65535) throw invalid(value, `port ${portText} is out of range 1-65535`);
    addresses.push(`${host}:${port}`);
  }
  let prefix = DEFAULT_ETCD_PREFIX;
  if (path !== undefined && path !== '/') {
    const segments = path.replace(/\/+$/, '').split('/').slice(1);
    for (const s of segments) {
      if (!PREFIX_SEGMENT.test(s)) throw invalid(value, `key prefix ${JSON.stringify(path)} may hold only letters, digits, '.', '_' and '-' between slashes`);
    }
    prefix = '/' + segments.join('/');
  }
  return { backend: 'etcd', addresses, endpoints: addresses.map((a) => `http://${a}`), prefix };
}
