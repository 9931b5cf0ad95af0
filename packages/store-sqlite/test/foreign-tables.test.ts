/**
 * An app table that has one of the store's names (README, Limits: "Table names"). The store creates
 * `schema_version` (with its one row) and `kv` together, in one transaction, so a file holding only
 * one of them, or a `schema_version` without a row, was not set up by it: opening such a file must
 * refuse it and change nothing — not write its version into the app's migrations table, nor keep
 * its rows in the app's `kv` table.
 */
import { existsSync, readFileSync } from 'node:fs';
import { E2eeError } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** A file with the app's own tables, closed; its bytes before the store sees it. */
function appFile(sql: string): { path: string; before: Buffer } {
  const path = dbs.path();
  const app = new Database(path);
  app.exec(sql);
  app.close();
  return { path, before: readFileSync(path) };
}

const tables = (db: Database.Database) =>
  (
    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as {
      name: string;
    }[]
  ).map((r) => r.name);

describe('SqliteStore.open on a file whose app tables have the store’s names', () => {
  const cases = [
    {
      what: 'an empty migrations table `schema_version (version)`',
      sql: 'CREATE TABLE schema_version (version INTEGER)',
      tables: ['schema_version'],
    },
    {
      what: 'an app table `kv (t, k, v)` and no schema_version',
      sql: 'CREATE TABLE kv (t TEXT, k TEXT, v BLOB)',
      tables: ['kv'],
    },
    {
      what: 'an app table `KV (t, k, v)` in upper case (SQLite names ignore case)',
      sql: 'CREATE TABLE KV (t TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (t, k))',
      tables: ['KV'],
    },
    {
      what: 'an app table `Schema_Version (version)` in mixed case',
      sql: 'CREATE TABLE Schema_Version (version INTEGER)',
      tables: ['Schema_Version'],
    },
    {
      what: 'an app view named `kv`',
      sql: "CREATE TABLE app (x); CREATE VIEW kv AS SELECT 't' AS t, 'k' AS k, x AS v FROM app",
      tables: ['app'],
    },
    {
      what: 'both, the app’s schema_version empty',
      sql: 'CREATE TABLE schema_version (version INTEGER); CREATE TABLE kv (t TEXT, k TEXT, v BLOB)',
      tables: ['kv', 'schema_version'],
    },
  ];
  for (const { what, sql, tables: expected } of cases) {
    it(`${what}: STORE_FORMAT, and the file is left byte for byte as it was`, async () => {
      const { path, before } = appFile(sql);
      const db = dbs.open(path);
      expect(E2eeError.is(await failure(SqliteStore.open(db, { ratchet })), 'STORE_FORMAT')).toBe(true);
      expect(tables(db)).toEqual(expected);
      db.close();
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(existsSync(`${path}-wal`)).toBe(false);
    });
  }

  it('an in-memory database with an empty schema_version: refused, no row written into it', async () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE schema_version (version INTEGER)');
    expect(E2eeError.is(await failure(SqliteStore.open(db, { ratchet })), 'STORE_FORMAT')).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM schema_version').get()).toEqual({ n: 0 });
    expect(tables(db)).toEqual(['schema_version']);
    db.close();
  });

  it('an app TEMP table `kv` on the connection: the store keeps its rows in the file’s own kv, not in it', async () => {
    const path = dbs.path();
    const db = dbs.open(path);
    db.exec('CREATE TEMP TABLE kv (t TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (t, k))');
    const store = await SqliteStore.open(db, { ratchet });
    await store.app.put('note', new TextEncoder().encode('in the file'));
    expect((await store.app.get('note'))?.length).toBe(11);
    expect((db.prepare('SELECT count(*) AS n FROM main.kv').get() as { n: number }).n).toBeGreaterThan(0);
    expect(db.prepare('SELECT count(*) AS n FROM temp.kv').get()).toEqual({ n: 0 });
    db.close();
  });

  it('a file the store set up opens again (both tables, its row)', async () => {
    const path = dbs.path();
    await SqliteStore.open(dbs.open(path), { ratchet });
    const again = await SqliteStore.open(dbs.open(path), { ratchet });
    expect(again.sealed).toBe(false);
  });
});
