/**
 * An app table called `locks` (README, Limits: "Table names"). `SqliteLockManager` keeps its rows in
 * a `locks` table it makes itself; one it did not make — another definition, even of the same shape,
 * another case of the name, a view — is the app's: taking lock rows in it would mix them with the
 * app's rows (or fail on the first statement). `new SqliteLockManager(db)` must refuse it with
 * STORE_FORMAT and change nothing in the file. A `locks` table made by earlier releases (the frozen
 * `fixtures/locks-v1.sqlite`, fixtures/make-locks-v1.ts) is the manager's and keeps working.
 */
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SqliteLockManager, SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};

afterEach(() => {
  vi.useRealTimers();
});

/** A file with the app's own schema and rows, closed; its bytes before the manager sees it. */
function appFile(sql: string): { path: string; before: Buffer } {
  const path = dbs.path();
  const app = new Database(path);
  app.exec(sql);
  app.close();
  return { path, before: readFileSync(path) };
}

const schema = (db: Database.Database) =>
  db.prepare('SELECT type, name, sql FROM main.sqlite_master ORDER BY name').all();

describe('new SqliteLockManager(db) on a file with an app object named locks', () => {
  const cases = [
    {
      what: 'an app table of the same shape, declared otherwise',
      sql: "CREATE TABLE locks (k TEXT PRIMARY KEY, owner TEXT, since INTEGER); INSERT INTO locks VALUES ('alice.1', 'app', 1)",
    },
    {
      what: 'an app table of another shape',
      sql: "CREATE TABLE locks (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO locks VALUES (1, 'app')",
    },
    {
      what: 'an app table whose name differs only in case (SQLite names are case-insensitive)',
      sql: 'CREATE TABLE LOCKS (k TEXT PRIMARY KEY, owner TEXT NOT NULL, since INTEGER NOT NULL)',
    },
    {
      what: 'an app index',
      sql: 'CREATE TABLE app (x); CREATE INDEX locks ON app (x)',
    },
    {
      what: 'an app view',
      sql: "CREATE TABLE app (x); CREATE VIEW locks AS SELECT x AS k, 'o' AS owner, 0 AS since FROM app",
    },
  ];
  for (const { what, sql } of cases) {
    it(`${what}: STORE_FORMAT, and the file is left byte for byte as it was`, () => {
      const { path, before } = appFile(sql);
      const db = dbs.open(path);
      const schemaBefore = schema(db);
      const err = thrown(() => new SqliteLockManager(db));
      expect(E2eeError.is(err, 'STORE_FORMAT'), String(err)).toBe(true);
      expect(String((err as Error).message)).toMatch(/locks/);
      expect(schema(db)).toEqual(schemaBefore);
      db.close();
      expect(readFileSync(path).equals(before)).toBe(true);
      expect(existsSync(`${path}-journal`)).toBe(false);
      expect(existsSync(`${path}-wal`)).toBe(false);
    });
  }

  it('an app TEMP table named locks on the connection: left alone, the lock rows go to the main database', async () => {
    const db = dbs.open();
    db.exec(
      "CREATE TEMP TABLE locks (k TEXT PRIMARY KEY, owner TEXT NOT NULL, since INTEGER NOT NULL); INSERT INTO temp.locks VALUES ('app-row', 'app', 7)",
    );
    const locks = new SqliteLockManager(db);
    const inside = await locks.run('alice.1', async () => db.prepare('SELECT k FROM main.locks').all());
    expect(inside).toEqual([{ k: 'alice.1' }]);
    expect(db.prepare('SELECT k, owner, since FROM temp.locks').all()).toEqual([
      { k: 'app-row', owner: 'app', since: 7 },
    ]);
  });

  it('its own table opens again, from another connection too, next to an app trigger named locks', async () => {
    const path = dbs.path();
    const first = dbs.open(path);
    await new SqliteLockManager(first).run('k', async () => undefined);
    // Triggers have a namespace of their own: this one is no table in the manager's way.
    first.exec('CREATE TABLE app (x); CREATE TRIGGER locks AFTER INSERT ON app BEGIN SELECT 1; END');
    const again = new SqliteLockManager(dbs.open(path));
    expect(await again.run('k', async () => 'ran')).toBe('ran');
  });
});

describe('a locks table made by an earlier release (fixtures/locks-v1.sqlite)', () => {
  const fixture = fileURLToPath(new URL('./fixtures/locks-v1.sqlite', import.meta.url));
  /** The row of `alice.1` the fixture's crashed holder left. */
  const left = () => {
    const f = new Database(fixture, { readonly: true });
    try {
      return f.prepare('SELECT since FROM locks WHERE k = ?').get('alice.1') as { since: number };
    } finally {
      f.close();
    }
  };

  it('is accepted; the row it holds is honoured until staleMs, then taken over and released', async () => {
    const path = dbs.path();
    copyFileSync(fixture, path);
    const db = dbs.open(path);
    const { since } = left();
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    vi.setSystemTime(since + 1_000);
    const locks = new SqliteLockManager(db, { staleMs: 30_000, pollMs: 10, timeoutMs: 100 });
    const early = locks.run('alice.1', async () => 'ran').catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(200);
    const err = await early;
    expect(E2eeError.is(err, 'STORE'), String(err)).toBe(true);
    expect(String((err as Error).message)).toMatch(/timed out waiting for lock alice\.1/);
    vi.setSystemTime(since + 30_001);
    expect(await locks.run('alice.1', async () => 'ran')).toBe('ran');
    expect(db.prepare('SELECT count(*) AS n FROM locks').get()).toEqual({ n: 0 });
    // The store's tables in the same file are untouched by it.
    vi.useRealTimers();
    const store = await SqliteStore.open(db, { ratchet });
    expect(await store.app.get('note')).toEqual(utf8('made with a lock table of format 1'));
  });
});
