// `weft version`: this CLI's version and, when reachable, the control plane's.

import { WEFT_VERSION } from '../../config/version.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, parseCommand, token, type Command } from '../command.ts';

export const versionCommand: Command = {
  name: 'version',
  summary: 'Print the version of the CLI and of the control plane.',
  usage: 'Usage: weft version',
  async run(argv) {
    const p = parseCommand(this, argv, controlOption);
    if (!p) return 0;
    process.stdout.write(`client: weft ${WEFT_VERSION} (node ${process.version})\n`);
    try {
      const health = await new ApiClient(controlUrl(p), token(p)).request<{ version: string }>('GET', '/v1/health');
      process.stdout.write(`control plane: weft ${health.version} at ${controlUrl(p)}\n`);
    } catch {
      process.stdout.write(`control plane: not reachable at ${controlUrl(p)}\n`);
    }
    return 0;
  },
};
