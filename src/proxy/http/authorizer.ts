// The path inbound policies judge, computed once per request by the inbound handler before its
// filters run (src/proxy/filters/: jwt-authn, then authz, which compiles the AuthorizationPolicies).

/**
 * The path policies judge: without the query, percent-encoded unreserved characters decoded
 * (`%2e` is `.`), repeated slashes merged and `.`/`..` segments resolved (RFC 3986, 5.2.4), so
 * `/api/..//admin/x` and `/%61dmin/x` are judged as the `/admin/x` an app would serve. Encoded
 * slashes (`%2F`) and backslashes stay as they are: apps disagree on what they mean.
 */
export function authorizationPath(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  const q = url.indexOf('?');
  let path = q === -1 ? url : url.slice(0, q);
  if (path.includes('%')) path = path.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => (UNRESERVED.test(String.fromCharCode(parseInt(hex, 16))) ? String.fromCharCode(parseInt(hex, 16)) : m));
  if (!path.includes('//') && !path.includes('/.')) return path;
  const out: string[] = [];
  const segments = path.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i]!;
    if (s === '..') out.pop();
    else if (s !== '.' && (s !== '' || i === segments.length - 1)) out.push(s);
  }
  const last = segments[segments.length - 1];
  // `/a/..` and `/a/.` name a directory: keep the trailing slash.
  return '/' + out.join('/') + ((last === '..' || last === '.') && out.length ? '/' : '');
}

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
