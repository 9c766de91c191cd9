// The embedded Store backend: one SQLite file (`<dataDir>/weft.db`, via node:sqlite) holding mesh
// resources, persisted catalog instances and the store-wide revision. Shared apply/delete rules
// live in apply-semantics.ts so the etcd backend behaves the same.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Resource } from '../../config/resource.ts';
import type { InstanceState } from '../../config/catalog-types.ts';
import type { ApplyOptions, ApplyResult, ResourceFilter, Store, StoreEvent, StoredToken } from './store.ts';
import { WeftError, errorMessage } from '../../lib/errors.ts';
import { createLogger, type Logger } from '../../lib/log.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
import {
  STORE_CLOSED,
  checkDelete,
  createStoreEvents,
  parseResource,
  parseInstance, parseStoredObject,
  planApply,
  type StoreEvents,
} from './apply-semantics.ts';

export const SQLITE_FILE_NAME = 'weft.db';

export interface SqliteStoreOptions {
  /** Source of creationTimestamp; injected so tests get stable timestamps. */
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS resources (
    kind             TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    name             TEXT NOT NULL,
    json             TEXT NOT NULL,
    resource_version INTEGER NOT NULL,
    PRIMARY KEY (kind, namespace, name)
  );
  CREATE TABLE IF NOT EXISTS instances (
    namespace TEXT NOT NULL,
    service   TEXT NOT NULL,
    id        TEXT NOT NULL,
    json      TEXT NOT NULL,
    PRIMARY KEY (namespace, service, id)
  );
  CREATE TABLE IF NOT EXISTS tokens (
    id   TEXT PRIMARY KEY,
    json TEXT NOT NULL
  );
  INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
`;

interface Statements {
  readonly getRevision: StatementSync;
  readonly setRevision: StatementSync;
  readonly getResource: StatementSync;
  readonly upsertResource: StatementSync;
  readonly deleteResource: StatementSync;
  readonly listResources: StatementSync;
  readonly listResourcesByKind: StatementSync;
  readonly listResourcesByNamespace: StatementSync;
  readonly listResourcesByKindNamespace: StatementSync;
  readonly getInstance: StatementSync;
  readonly upsertInstance: StatementSync;
  readonly deleteInstance: StatementSync;
  readonly listInstances: StatementSync;
  readonly listTokens: StatementSync;
  readonly upsertToken: StatementSync;
  readonly deleteToken: StatementSync;
}

/** Opens (creating when needed) the store in `dataDir`. */
export async function openSqliteStore(dataDir: string, options: SqliteStoreOptions = {}): Promise<Store> {
  const log = options.logger ?? createLogger('store/sqlite');
  const path = join(dataDir, SQLITE_FILE_NAME);
  let db: DatabaseSync | undefined;
  try {
    // 0700: the data dir holds the mesh's whole configuration.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    db = new DatabaseSync(path);
    // WAL + NORMAL: a crash may lose the last commits but never corrupts the file, and writes do
    // not fsync on every commit. busy_timeout covers a second process briefly holding the lock.
    db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
    db.exec(SCHEMA);
    // The revision must never go backwards, even if meta was lost or edited by hand: otherwise a
    // new write could reuse a version a client still holds and pass its conflict check.
    db.exec(`UPDATE meta SET value = max(value, (SELECT coalesce(max(resource_version), 0) FROM resources))
             WHERE key = 'revision'`);
  } catch (err) {
    try {
      db?.close();
    } catch {
      // Already failing; the open error is the one worth reporting.
    }
    throw new WeftError('WEFT_ERR_STORE_OPEN', `cannot open store at ${path}: ${errorMessage(err)}`, 500);
  }
  log.debug('store opened', { path });
  return new SqliteStore(db, options.clock ?? systemClock, log);
}

class SqliteStore implements Store {
  #db: DatabaseSync | undefined;
  #stmts: Statements;
  #clock: Clock;
  #log: Logger;
  #events: StoreEvents;

  constructor(db: DatabaseSync, clock: Clock, log: Logger) {
    this.#db = db;
    this.#clock = clock;
    this.#log = log;
    this.#events = createStoreEvents(log);
    const order = 'ORDER BY kind, namespace, name';
    const cols = 'SELECT kind, namespace, name, json, resource_version FROM resources';
    this.#stmts = {
      getRevision: db.prepare(`SELECT value FROM meta WHERE key = 'revision'`),
      setRevision: db.prepare(`UPDATE meta SET value = ? WHERE key = 'revision'`),
      getResource: db.prepare(`${cols} WHERE kind = ? AND namespace = ? AND name = ?`),
      upsertResource: db.prepare(
        `INSERT INTO resources (kind, namespace, name, json, resource_version) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (kind, namespace, name) DO UPDATE SET json = excluded.json, resource_version = excluded.resource_version`,
      ),
      deleteResource: db.prepare(`DELETE FROM resources WHERE kind = ? AND namespace = ? AND name = ?`),
      listResources: db.prepare(`${cols} ${order}`),
      listResourcesByKind: db.prepare(`${cols} WHERE kind = ? ${order}`),
      listResourcesByNamespace: db.prepare(`${cols} WHERE namespace = ? ${order}`),
      listResourcesByKindNamespace: db.prepare(`${cols} WHERE kind = ? AND namespace = ? ${order}`),
      getInstance: db.prepare(`SELECT 1 FROM instances WHERE namespace = ? AND service = ? AND id = ?`),
      upsertInstance: db.prepare(
        `INSERT INTO instances (namespace, service, id, json) VALUES (?, ?, ?, ?)
         ON CONFLICT (namespace, service, id) DO UPDATE SET json = excluded.json`,
      ),
      deleteInstance: db.prepare(`DELETE FROM instances WHERE namespace = ? AND service = ? AND id = ?`),
      listInstances: db.prepare(`SELECT namespace, service, id, json FROM instances ORDER BY namespace, service, id`),
      listTokens: db.prepare(`SELECT id, json FROM tokens ORDER BY id`),
      upsertToken: db.prepare(`INSERT INTO tokens (id, json) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET json = excluded.json`),
      deleteToken: db.prepare(`DELETE FROM tokens WHERE id = ?`),
    };
  }

  async listResources(filter: ResourceFilter = {}): Promise<Resource[]> {
    this.#requireOpen();
    const { kind, namespace } = filter;
    const s = this.#stmts;
    const rows =
      kind !== undefined && namespace !== undefined
        ? s.listResourcesByKindNamespace.all(kind, namespace)
        : kind !== undefined
          ? s.listResourcesByKind.all(kind)
          : namespace !== undefined
            ? s.listResourcesByNamespace.all(namespace)
            : s.listResources.all();
    const out: Resource[] = [];
    for (const row of rows) {
      const resource = this.#decodeResource(row);
      if (resource !== undefined) out.push(resource);
    }
    return out;
  }

  async getResource(kind: string, namespace: string, name: string): Promise<Resource | undefined> {
    this.#requireOpen();
    const row = this.#stmts.getResource.get(kind, namespace, name);
    return row === undefined ? undefined : this.#decodeResource(row);
  }

  async applyResource(incoming: Resource, options?: ApplyOptions): Promise<ApplyResult> {
    const { kind } = incoming;
    const { namespace, name } = incoming.metadata;
    const result = this.#transaction((): ApplyResult => {
      const row = this.#stmts.getResource.get(kind, namespace, name);
      const plan = planApply({
        existing: row === undefined ? undefined : this.#decodeResource(row),
        existingVersion: row === undefined ? undefined : String(row.resource_version),
        incoming,
        options,
        nextRevision: () => this.#bumpRevision(),
        now: () => new Date(this.#clock.now()).toISOString(),
      });
      if (plan.action === 'unchanged') return { resource: plan.resource, created: false, unchanged: true };
      this.#stmts.upsertResource.run(kind, namespace, name, JSON.stringify(plan.resource), Number(plan.resource.metadata.resourceVersion));
      return { resource: plan.resource, created: plan.created, unchanged: false };
    });
    if (!result.unchanged) this.#events.emit({ type: 'resource-put', resource: result.resource });
    return result;
  }

  async deleteResource(kind: string, namespace: string, name: string, options?: ApplyOptions): Promise<Resource> {
    const deleted = this.#transaction((): Resource => {
      const row = this.#stmts.getResource.get(kind, namespace, name);
      const existingVersion = row === undefined ? undefined : String(row.resource_version);
      checkDelete(kind, namespace, name, existingVersion, options);
      // Deletes advance the revision too, so anything keyed on it (snapshot versions) moves on.
      this.#bumpRevision();
      this.#stmts.deleteResource.run(kind, namespace, name);
      // A corrupt row can still be deleted (that is how an operator gets rid of it); the caller
      // gets back what identity we have.
      return (
        this.#decodeResource(row!) ?? {
          apiVersion: '',
          kind,
          metadata: { name, namespace, resourceVersion: existingVersion },
          spec: null,
        }
      );
    });
    this.#events.emit({ type: 'resource-delete', resource: deleted });
    return deleted;
  }

  async listInstances(): Promise<InstanceState[]> {
    this.#requireOpen();
    const out: InstanceState[] = [];
    for (const row of this.#stmts.listInstances.all()) {
      const instance = parseInstance(String(row.json));
      if (instance === undefined) {
        this.#log.warn('skipping corrupt instance row', { namespace: row.namespace, service: row.service, id: row.id });
        continue;
      }
      out.push(instance);
    }
    return out;
  }

  async putInstance(instance: InstanceState): Promise<void> {
    const json = JSON.stringify(instance);
    this.#transaction(() => {
      this.#stmts.upsertInstance.run(instance.namespace, instance.service, instance.id, json);
    });
    // Watchers get the stored form, not the caller's (possibly later mutated) object.
    this.#events.emit({ type: 'instance-put', instance: JSON.parse(json) as InstanceState });
  }

  async deleteInstance(namespace: string, service: string, id: string): Promise<void> {
    const existed = this.#transaction((): boolean => {
      const changes = this.#stmts.deleteInstance.run(namespace, service, id).changes;
      return Number(changes) > 0;
    });
    if (existed) this.#events.emit({ type: 'instance-delete', namespace, service, id });
  }

  async listTokens(): Promise<StoredToken[]> {
    this.#requireOpen();
    const out: StoredToken[] = [];
    for (const row of this.#stmts.listTokens.all()) {
      try {
        out.push(JSON.parse(String(row.json)) as StoredToken);
      } catch {
        this.#log.warn('skipping corrupt token row', { id: row.id });
      }
    }
    return out;
  }

  async putToken(token: StoredToken): Promise<void> {
    const json = JSON.stringify(token);
    this.#transaction(() => {
      this.#stmts.upsertToken.run(token.id, json);
    });
  }

  async deleteToken(id: string): Promise<boolean> {
    return this.#transaction((): boolean => Number(this.#stmts.deleteToken.run(id).changes) > 0);
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    return this.#events.watch(listener);
  }

  async close(): Promise<void> {
    const db = this.#db;
    if (db === undefined) return;
    this.#db = undefined;
    this.#events.clear();
    db.close();
  }

  #requireOpen(): DatabaseSync {
    if (this.#db === undefined) throw new WeftError(STORE_CLOSED, 'store is closed', 503);
    return this.#db;
  }

  /**
   * Runs `fn` in an IMMEDIATE transaction (the write lock is taken up front, so the read-check-
   * write inside cannot interleave with another writer) and rolls back on any throw, which is how
   * a rejected conflicting write leaves nothing behind, revision included.
   */
  #transaction<T>(fn: () => T): T {
    const db = this.#requireOpen();
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      db.exec('COMMIT');
      return result;
    } catch (err) {
      // SQLite rolls back by itself on some errors (disk full); a second ROLLBACK would throw
      // and hide the real error.
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
  }

  /** Next store-wide revision; only valid inside #transaction. */
  #bumpRevision(): string {
    const row = this.#stmts.getRevision.get();
    const next = Number(row?.value ?? 0) + 1;
    this.#stmts.setRevision.run(next);
    return String(next);
  }

  #decodeResource(row: Record<string, unknown>): Resource | undefined {
    const resource = parseResource(String(row.json));
    if (resource === undefined) {
      this.#log.warn('skipping corrupt resource row', { kind: row.kind, namespace: row.namespace, name: row.name });
    }
    return resource;
  }
}

