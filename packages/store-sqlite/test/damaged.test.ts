/**
 * Files damaged on disk or edited by another tool: every failure is a typed `E2eeError` (`STORE`,
 * the SQLite error as `cause`), never a bare SqliteError from deep inside better-sqlite3.
 */
import { copyFileSync, existsSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const fixture = fileURLToPath(new URL('./fixtures/v1-plain.sqlite', import.meta.url));
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const isStoreError = (e: unknown) => E2eeError.is(e, 'STORE') && (e as Error).cause !== undefined;

describe('SqliteStore on damaged files', () => {
  it('a file that is not a SQLite database is a StoreError', async () => {
    const path = dbs.path();
    writeFileSync(path, new Uint8Array(8192).fill(7));
    expect(isStoreError(await failure(SqliteStore.open(dbs.open(path), { ratchet, senderKeys })))).toBe(true);
  });

  for (const keep of [100, 4096, 8192]) {
    it(`a v1 file truncated to ${keep} bytes is a StoreError`, async () => {
      const path = dbs.path();
      copyFileSync(fixture, path);
      expect(statSync(path).size).toBeGreaterThan(keep);
      truncateSync(path, keep);
      expect(isStoreError(await failure(SqliteStore.open(dbs.open(path), { ratchet, senderKeys })))).toBe(
        true,
      );
    });
  }

  it('a file from a newer schema version is STORE_FORMAT and left byte for byte as it was', async () => {
    const path = dbs.path();
    const newer = new Database(path);
    newer.pragma('journal_mode = DELETE'); // a layout this version does not know may use another mode
    newer.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    newer.prepare('INSERT INTO schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION + 1);
    newer.exec('CREATE TABLE kv_next (t TEXT, k TEXT, v BLOB)');
    newer.close();
    const before = readFileSync(path);
    const db = dbs.open(path);
    expect(E2eeError.is(await failure(SqliteStore.open(db, { ratchet })), 'STORE_FORMAT')).toBe(true);
    db.close();
    // Switching it to WAL first (a header write, and -wal/-shm files) changed a file it then refused.
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('reads and listings of a file whose table was dropped by another tool are StoreErrors', async () => {
    const db = dbs.open();
    const store = await SqliteStore.open(db, { ratchet, senderKeys });
    await store.app.put('x', utf8('1'));
    db.exec('DROP TABLE kv');
    expect(isStoreError(await failure(store.app.get('x')))).toBe(true);
    expect(isStoreError(await failure(store.resend.list()))).toBe(true);
    expect(isStoreError(await failure(store.app.put('y', utf8('2'))))).toBe(true);
  });
});

describe('SqliteBackend compare-and-set against an edited row', () => {
  it('a row another tool rewrote as TEXT is "changed", not equal to the bytes read', async () => {
    const db = dbs.open();
    const store = await SqliteStore.open(db, { ratchet });
    await store.backupAttempts.set('x', Uint8Array.of(1, 2));
    const err = await failure(
      store.transaction(async (tx) => {
        await tx.backupAttempts.get('x'); // the transaction read 01 02
        // Meanwhile another tool writes the TEXT '12': its characters coerced to 1, 2 compared equal.
        db.prepare("UPDATE kv SET v = '12' WHERE t = 'attempt'").run();
        await tx.backupAttempts.set('x', utf8('mine'));
      }),
    );
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(db.prepare("SELECT typeof(v) AS t FROM kv WHERE t = 'attempt'").get()).toEqual({ t: 'text' });
  });
});

it('a resend row another tool rewrote as TEXT is left out of listings; read by its id it is a StoreError', async () => {
  const db = dbs.open();
  const store = await SqliteStore.open(db, { ratchet });
  await store.resend.apply({ put: { id: 'kept', savedAt: 1, record: utf8('r') }, remove: [] });
  await store.resend.apply({ put: { id: 'edited', savedAt: 2, record: utf8('r') }, remove: [] });
  db.prepare("UPDATE kv SET v = 'not bytes' WHERE t = 'resend' AND k = 'edited'").run();
  // ResendCache.put lists first: a listing that throws stops every HealingCipher send for good.
  expect(await store.resend.list()).toEqual([{ id: 'kept', savedAt: 1 }]);
  expect(E2eeError.is(await failure(store.resend.get('edited')), 'STORE')).toBe(true);
});
