// `weft control`: runs the control plane until SIGINT/SIGTERM.

import { startControlPlane } from '../../control/control-plane.ts';
import { WeftError } from '../../lib/errors.ts';
import { parseCommand, str, type Command } from '../command.ts';

export const controlCommand: Command = {
  name: 'control',
  summary: 'Run the control plane: catalog, resource store, config streams and the HTTP API.',
  usage: `Usage: weft control [--listen HOST:PORT] [--data-dir DIR] [--token TOKEN]

  --listen HOST:PORT   where the API listens (default 127.0.0.1:7700)
  --data-dir DIR       where the embedded SQLite store lives (default ./.weft/control)
  --token TOKEN        require "Authorization: Bearer TOKEN" on the API (or WEFT_TOKEN)`,
  async run(argv) {
    const p = parseCommand(this, argv, { listen: { type: 'string' }, 'data-dir': { type: 'string' }, token: { type: 'string' } });
    if (!p) return 0;
    const listen = str(p, 'listen') ?? '127.0.0.1:7700';
    const m = /^(.*):(\d+)$/.exec(listen);
    if (!m) throw new WeftError('WEFT_ERR_CLI_USAGE', `--listen must be HOST:PORT, got ${JSON.stringify(listen)}`, 2);
    const cp = await startControlPlane({
      host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(m[2]),
      dataDir: str(p, 'data-dir') ?? '.weft/control',
      token: str(p, 'token') ?? process.env.WEFT_TOKEN ?? undefined,
    });
    process.stdout.write(`weft control plane listening on ${cp.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void cp.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
