// Gateway API HTTPPathModifier, shared by URLRewrite and RequestRedirect: ReplaceFullPath, or
// ReplacePrefixMatch of the PathPrefix that matched, keeping the query string.

import type { HTTPPathModifier } from '../../../config/kinds/http-route.ts';

/**
 * The new origin-form target for `target` (path and query). `prefix` is the PathPrefix that matched
 * (without its trailing slash, "/" for the root), required by ReplacePrefixMatch. Follows the
 * specification's table: prefix "/foo" replaced by "/xyz" maps "/foo/bar" to "/xyz/bar", "/foo/" to
 * "/xyz/", and replaced by "" maps "/foo" to "/".
 */
export function modifyPath(target: string, modifier: HTTPPathModifier, prefix: string | undefined): string {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q);
  if (modifier.type === 'ReplaceFullPath') return modifier.replaceFullPath + query;
  const matched = prefix === undefined || prefix === '/' ? '' : prefix;
  const rest = path.slice(matched.length);
  let replacement = modifier.replacePrefixMatch;
  if (replacement.endsWith('/')) replacement = replacement.slice(0, -1);
  let out = replacement + rest;
  if (out === '') out = '/';
  else if (!out.startsWith('/')) out = `/${out}`;
  return out + query;
}
