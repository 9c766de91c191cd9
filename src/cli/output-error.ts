// How the CLI prints a WeftError: the error and its code on the first line, each field problem once
// below it, then any longer text (a verb's usage) last, so the code is never buried under help.

import type { WeftError } from '../lib/errors.ts';

/**
 * `error: SUMMARY [CODE]`, then `  path: message` per detail, then the text after the message's
 * first blank line (usage). A summary that already lists the details (the API joins them into its
 * message) is cut before them, so each problem is printed once. Ends with a newline.
 */
export function formatCliError(err: WeftError): string {
  const blank = err.message.indexOf('\n\n');
  let summary = blank === -1 ? err.message : err.message.slice(0, blank);
  const more = blank === -1 ? '' : err.message.slice(blank + 2);
  if (err.details.length > 0) {
    const first = `${err.details[0].path}: `;
    const at = summary.indexOf(first);
    if (at > 0) summary = summary.slice(0, at).replace(/[:;,\s]+$/, '');
  }
  let out = `error: ${summary} [${err.code}]\n`;
  for (const d of err.details) out += `  ${d.path}: ${d.message}\n`;
  if (more) out += `\n${more.endsWith('\n') ? more : `${more}\n`}`;
  return out;
}
