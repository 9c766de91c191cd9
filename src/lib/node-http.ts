// node:http without its lazy web exports. An ESM `import http from 'node:http'` reads every export,
// and the getter of http.WebSocket loads undici, http2 and tls: ~20 MB of RSS a sidecar never uses.
// Long-running processes import http from here; `import type` from 'node:http' stays fine.

import type * as NodeHttp from 'node:http';

export const http: typeof NodeHttp = process.getBuiltinModule('node:http');
