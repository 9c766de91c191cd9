// The CLI's front door: picks the verb, runs it, and turns errors into one clear line on stderr
// (code and message, field paths for invalid input) and an exit status, never a stack trace.

import { isWeftError } from '../lib/errors.ts';
import type { Command } from './command.ts';
import { didYouMean } from './suggest.ts';
import { formatCliError } from './output-error.ts';

/**
 * Verbs load on demand: a sidecar process should not carry the control plane's modules (or the
 * other way round) in its memory.
 */
const verbs: Readonly<Record<string, () => Promise<Command>>> = {
  control: async () => (await import('./commands/control.ts')).controlCommand,
  proxy: async () => (await import('./commands/proxy.ts')).proxyCommand,
  run: async () => (await import('./commands/run.ts')).runCommand,
  apply: async () => (await import('./commands/apply.ts')).applyCommand,
  get: async () => (await import('./commands/get.ts')).getCommand,
  delete: async () => (await import('./commands/delete.ts')).deleteCommand,
  services: async () => (await import('./commands/services.ts')).servicesCommand,
  endpoints: async () => (await import('./commands/endpoints.ts')).endpointsCommand,
  status: async () => (await import('./commands/status.ts')).statusCommand,
  ca: async () => (await import('./commands/ca.ts')).caCommand,
  check: async () => (await import('./commands/check.ts')).checkCommand,
  stat: async () => (await import('./commands/stat.ts')).statCommand,
  top: async () => (await import('./commands/top.ts')).topCommand,
  tap: async () => (await import('./commands/tap.ts')).tapCommand,
  token: async () => (await import('./commands/token.ts')).tokenCommand,
  version: async () => (await import('./commands/version.ts')).versionCommand,
  why: async () => (await import('./commands/why.ts')).whyCommand,
};

async function usage(): Promise<string> {
  const commands = await Promise.all(Object.values(verbs).map((load) => load()));
  const width = Math.max(...commands.map((c) => c.name.length));
  return `weft: a service mesh for Node and TypeScript shops.

Usage: weft COMMAND [options]      (weft COMMAND --help for its options)

${commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`).join('\n')}

The control plane's address comes from --control URL or WEFT_CONTROL (default http://127.0.0.1:7700),
its admin token from --token or WEFT_TOKEN.
`;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(await usage());
    return verb ? 0 : 2;
  }
  if (verb === '--version') return (await verbs.version()).run([]);
  const load = Object.hasOwn(verbs, verb) ? verbs[verb] : undefined;
  if (!load) {
    process.stderr.write(`error: unknown command ${JSON.stringify(verb)}${didYouMean(verb, Object.keys(verbs))} [WEFT_ERR_CLI_UNKNOWN_COMMAND]\n  run 'weft --help' for the list of commands\n`);
    return 2;
  }
  return (await load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isWeftError(err)) {
      process.stderr.write(formatCliError(err));
      process.exitCode = err.status === 2 ? 2 : 1;
    } else {
      process.stderr.write(`weft: unexpected failure: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
