// The CLI's front door: picks the verb, runs it, and turns errors into one clear line on stderr
// (code and message, field paths for invalid input) and an exit status, never a stack trace.

import { isWeftError } from '../lib/errors.ts';
import type { Command } from './command.ts';
import { applyCommand } from './commands/apply.ts';
import { controlCommand } from './commands/control.ts';
import { deleteCommand } from './commands/delete.ts';
import { endpointsCommand } from './commands/endpoints.ts';
import { getCommand } from './commands/get.ts';
import { proxyCommand } from './commands/proxy.ts';
import { runCommand } from './commands/run.ts';
import { servicesCommand } from './commands/services.ts';
import { statusCommand } from './commands/status.ts';
import { versionCommand } from './commands/version.ts';

const commands: readonly Command[] = [controlCommand, proxyCommand, runCommand, applyCommand, getCommand, deleteCommand, servicesCommand, endpointsCommand, statusCommand, versionCommand];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return `weft: a service mesh for Node and TypeScript shops.

Usage: weft COMMAND [options]      (weft COMMAND --help for its options)

${commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`).join('\n')}

The control plane's address comes from --control URL or WEFT_CONTROL (default http://127.0.0.1:7700).
`;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  if (!verb || verb === '--help' || verb === '-h' || verb === 'help') {
    process.stdout.write(usage());
    return verb ? 0 : 2;
  }
  if (verb === '--version') return versionCommand.run([]);
  const command = commands.find((c) => c.name === verb);
  if (!command) {
    process.stderr.write(`weft: unknown command ${JSON.stringify(verb)}\n\n${usage()}`);
    return 2;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (isWeftError(err)) {
      process.stderr.write(`error: ${err.message} [${err.code}]\n`);
      for (const d of err.details) process.stderr.write(`  ${d.path}: ${d.message}\n`);
      process.exitCode = err.status === 2 ? 2 : 1;
    } else {
      process.stderr.write(`weft: unexpected failure: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    }
  },
);
