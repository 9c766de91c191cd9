// Tests for the embedded SQLite store against real database files in a temp dir: the shared Store
// suite (store-contract.ts), then what only SQLite has (its file, its tables, a file that is not
// a database).

import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Store } from './store.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { ManualClock } from '../../lib/clock.ts';
import { openSqliteStore, SQLITE_FILE_NAME } from './sqlite-store.ts';
import { storeContract, code, instance, policy } from './store-contract.ts';

let dir: string;
const opened: Store[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-store-'));
});

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

const quiet = createLogger('test', () => {});

async function open(dataDir = dir, log: Logger = quiet): Promise<Store> {
  const store = await openSqliteStore(dataDir, { clock: new ManualClock(Date.UTC(2024, 0, 1)), logger: log });
  opened.push(store);
  return store;
}

/** Writes with a second connection, as an operator's sqlite3 shell would. */
function rawWrite(sql: string, ...params: (string | number)[]): void {
  const db = new DatabaseSync(join(dir, SQLITE_FILE_NAME));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}

storeContract('sqlite', {
  open: (logger) => open(dir, logger ?? quiet),
  async corruptResource(kind, namespace, name, body) {
    rawWrite(`INSERT INTO resources (kind, namespace, name, json, resource_version) VALUES (?, ?, ?, ?, 1)`, kind, namespace, name, body);
    return '1';
  },
  async corruptInstance(namespace, service, id, body) {
    rawWrite(`INSERT INTO instances (namespace, service, id, json) VALUES (?, ?, ?, ?)`, namespace, service, id, body);
  },
});

test('sqlite: creates the data dir and weft.db', async () => {
  const nested = join(dir, 'a', 'b');
  await open(nested);
  const db = new DatabaseSync(join(nested, SQLITE_FILE_NAME));
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`).all().map((r) => r.name);
  db.close();
  assert.deepEqual(tables, ['instances', 'meta', 'resources', 'tokens']);
});

test('sqlite: the revision counts resource writes only, from 1', async () => {
  const store = await open();
  assert.equal((await store.applyResource(policy('a', {}))).resource.metadata.resourceVersion, '1');
  await store.putInstance(instance('i-1'));
  assert.equal((await store.applyResource(policy('b', {}))).resource.metadata.resourceVersion, '2');
});

test('sqlite: opening a path that is not a database fails with WEFT_ERR_STORE_OPEN', async () => {
  await writeFile(join(dir, SQLITE_FILE_NAME), 'this is not sqlite, just some text that is long enough to have a header'.repeat(10));
  await assert.rejects(openSqliteStore(dir, { logger: quiet }), code('WEFT_ERR_STORE_OPEN', 500));
});
