// The runtime's floor of the mutual-TLS mesh path: two of these, each piping bytes with no HTTP at
// all. `client` accepts plaintext and pipes each connection to its own mutual TLS 1.3 connection to
// the `server` one (P-256 certificates from bench/work/mesh-certs), which pipes the decrypted bytes to
// the upstream. Usage: node bench/peers/node-pipe-tls.mjs client|server PORT NEXT_PORT CERT_DIR SERVER_NAME

import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';

const [role, port, next, certDir, serverName] = process.argv.slice(2);
const read = (f) => readFileSync(path.join(certDir, f), 'utf8');
const tlsOptions = { key: read(`${role}.key`), cert: read(`${role}.crt`), ca: read('ca.crt'), minVersion: 'TLSv1.3' };
// One secure context for every outbound connection, as a proxy keeps one per certificate (a
// tls.Server makes its own from the same options: it takes no `secureContext`).
const context = tls.createSecureContext(tlsOptions);

function pipe(a, b) {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.on('close', () => b.destroy());
  b.on('close', () => a.destroy());
}

const server =
  role === 'client'
    ? net.createServer({ noDelay: true }, (client) => {
        const upstream = tls.connect({ host: '127.0.0.1', port: Number(next), secureContext: context, servername: serverName, minVersion: 'TLSv1.3' });
        upstream.setNoDelay(true);
        pipe(client, upstream);
      })
    : tls.createServer({ ...tlsOptions, requestCert: true, rejectUnauthorized: true, noDelay: true }, (client) => {
        pipe(client, net.connect({ host: '127.0.0.1', port: Number(next), noDelay: true }));
      });
server.listen(Number(port), '127.0.0.1', () => console.log(`node-pipe-tls ${role} listening on ${port}`));
