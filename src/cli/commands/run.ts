// `weft run`: a sidecar and its app as one unit. The proxy starts first and the app only once the
// proxy has its configuration; signals deregister and drain before reaching the app; the app's exit
// code becomes ours. Jobs (no --port) get the outbound side only.

import { spawn } from 'node:child_process';
import { delimiter, dirname } from 'node:path';
import { startProxy } from '../../proxy/proxy.ts';
import { WeftError } from '../../lib/errors.ts';
import { httpCall } from '../../lib/http-call.ts';
import { int, parseCommand, str, type Command } from '../command.ts';
import { proxyFlagsHelp, proxyOptions, proxyOptionsFrom } from './proxy.ts';

async function waitReady(adminPort: number, timeoutMs: number): Promise<void> {
  const started = Date.now();
  let lastWhy = '';
  let lastPrinted = 0;
  for (;;) {
    try {
      // Not fetch: this process is the sidecar too, and fetch would cost it ~20 MB for good.
      const res = await httpCall(`http://127.0.0.1:${adminPort}/ready`, { method: 'GET', timeoutMs: 2_000 });
      const body = JSON.parse(res.body) as { ready: boolean; why?: string };
      if (body.ready) return;
      lastWhy = body.why ?? 'not ready';
    } catch (err) {
      lastWhy = (err as Error).message;
    }
    const waited = Date.now() - started;
    if (waited > timeoutMs) throw new WeftError('WEFT_ERR_RUN_NOT_READY', `sidecar not ready after ${Math.round(waited / 1000)}s: ${lastWhy}`, 1);
    if (waited - lastPrinted >= 2_000) {
      lastPrinted = waited;
      process.stderr.write(`weft run: waiting for the sidecar (${Math.round(waited / 1000)}s): ${lastWhy}\n`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Start a sidecar, then the app behind it; stop both together.',
  usage: `Usage: weft run --service NAME [--port APP_PORT] [options] -- COMMAND [ARGS...]

  --port N                 the app's port (sets PORT for it); omit for a job that only calls out
  --ready-timeout-ms N     give up if the sidecar is not ready by then (default 60000)
${proxyFlagsHelp}

Unlike \`weft proxy\`, \`weft run\` picks free ports for the listeners you do not name.

The app gets HTTP_PROXY/http_proxy pointing at the sidecar (and NODE_USE_ENV_PROXY=1 so Node's
fetch and http honor it), NO_PROXY for loopback, PORT, WEFT_SERVICE and WEFT_ADMIN_URL; WEFT_JOIN_TOKEN and WEFT_TOKEN are
removed from its environment. The directory of the Node that weft runs on (Node 24) goes first on
the app's PATH, so \`weft run -- node app.js\` runs the app on that Node, not an older system one
whose fetch ignores HTTP_PROXY.`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...proxyOptions, port: { type: 'string', short: 'p' }, 'ready-timeout-ms': { type: 'string' } });
    if (!p) return 0;
    if (p.rest.length === 0) throw new WeftError('WEFT_ERR_CLI_USAGE', `a command to run is required after --\n\n${this.usage}`, 2);
    const opts = proxyOptionsFrom(p);
    if (!opts.service) throw new WeftError('WEFT_ERR_CLI_USAGE', `--service is required\n\n${this.usage}`, 2);
    const appPort = int(p, 'port') ?? opts.appPort;
    const proxy = await startProxy({
      ...opts,
      appPort,
      // Several `weft run`s on one machine must not fight over the default ports.
      inboundPort: opts.inboundPort ?? 0,
      outboundPort: opts.outboundPort ?? 0,
      adminPort: opts.adminPort ?? 0,
    });
    try {
      await waitReady(proxy.adminPort, int(p, 'ready-timeout-ms') ?? 60_000);
    } catch (err) {
      await proxy.stop();
      throw err;
    }
    const proxyUrl = `http://127.0.0.1:${proxy.outboundPort}`;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HTTP_PROXY: proxyUrl,
      http_proxy: proxyUrl,
      NO_PROXY: 'localhost,127.0.0.1,::1',
      no_proxy: 'localhost,127.0.0.1,::1',
      NODE_USE_ENV_PROXY: '1',
      WEFT_SERVICE: opts.service,
      WEFT_ADMIN_URL: `http://127.0.0.1:${proxy.adminPort}`,
      // The Node weft runs on goes first on PATH: `node app.js` must get a Node whose fetch honours
      // HTTP_PROXY (NODE_USE_ENV_PROXY, Node 24), not an older system Node that ignores it.
      PATH: [dirname(process.execPath), process.env.PATH].filter(Boolean).join(delimiter),
    };
    if (appPort !== undefined) env.PORT = String(appPort);
    // The sidecar's credentials are not the app's: a join token or admin token stays with weft run.
    delete env.WEFT_JOIN_TOKEN;
    delete env.WEFT_TOKEN;
    const [command, ...args] = p.rest;
    const child = spawn(command, args, { stdio: 'inherit', env });

    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (stopping) {
        child.kill('SIGKILL');
        return;
      }
      stopping = true;
      // Leave the catalog and drain first, so no caller is sent to an app that is going away.
      void proxy.stop().then(() => child.kill(signal));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);

    const code = await new Promise<number>((resolve) => {
      child.once('error', (err) => {
        process.stderr.write(`weft run: could not start ${command}: ${err.message}\n`);
        resolve(127);
      });
      child.once('exit', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 + (({ SIGINT: 2, SIGTERM: 15, SIGKILL: 9 } as Record<string, number>)[signal] ?? 1) : 1)));
    });
    await proxy.stop();
    return code;
  },
};
