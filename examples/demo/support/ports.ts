// Port planning for the demo: hands out free loopback ports counting up from a fixed base (stable
// URLs from run to run), skipping any port something else already holds.

import net from 'node:net';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Returns a function that yields the next free port at or above `base` each time it is called. */
export function createPortAllocator(base: number): () => Promise<number> {
  let next = base;
  return async () => {
    while (next <= 65535) {
      const port = next++;
      if (await isFree(port)) return port;
    }
    throw new Error(`no free port at or above ${base}`);
  };
}
