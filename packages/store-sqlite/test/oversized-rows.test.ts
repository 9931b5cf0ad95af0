/**
 * A hand-edited or hostile file with a huge blob in a row (here 40 MB; 2 GB works the same way): the
 * backend reads the row's length first (`length(v)` of a BLOB reads no content) and refuses it above
 * its table's cap (the store-kv README's "Value sizes": session 4 MiB, sealed values 29 bytes
 * longer) without better-sqlite3 ever materializing it. Every row a statement returns is recorded
 * through a spy on the statements' prototype, and none may hold a blob above the cap.
 */
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SqliteBackend, SqliteStore } from '@e2ee-kit/store-sqlite';
import type Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const HUGE = 40_000_000;
const SESSION_CAP = 4 * 1024 * 1024 + 29;
const alice = ratchet.createAddress('alice', 1);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

afterEach(() => {
  vi.restoreAllMocks();
});

/** The length of the longest blob any statement of `db` returns from now on. */
function largestReturned(db: Database.Database): () => number {
  const proto = Object.getPrototypeOf(db.prepare('SELECT 1')) as {
    get: (...a: unknown[]) => unknown;
    all: (...a: unknown[]) => unknown;
  };
  const spies = [vi.spyOn(proto, 'get'), vi.spyOn(proto, 'all')];
  const blobs = (v: unknown): number[] =>
    v instanceof Uint8Array
      ? [v.length]
      : Array.isArray(v)
        ? v.flatMap(blobs)
        : v !== null && typeof v === 'object'
          ? Object.values(v).flatMap(blobs)
          : [];
  return () => Math.max(0, ...spies.flatMap((s) => s.mock.results.flatMap((r) => blobs(r.value as unknown))));
}

describe('SqliteStore: an oversized row is refused unread', () => {
  for (const sealed of [false, true]) {
    it(`${sealed ? 'sealed' : 'plain'}: a 40 MB session row is a DecodeError, and no 40 MB buffer is read`, async () => {
      const db = dbs.open();
      const key = sealed ? { encryptionKey: new Uint8Array(32).fill(5) } : {};
      const store = await SqliteStore.open(db, { ratchet, ...key });
      const record = new ratchet.SessionRecord();
      await store.protocol.saveSession(alice, record);
      db.prepare("UPDATE kv SET v = zeroblob(?) WHERE t = 'session'").run(HUGE);
      const largest = largestReturned(db);
      const err = await failure(store.protocol.getSession(alice));
      expect(E2eeError.is(err, 'DECODE')).toBe(true);
      expect(String((err as Error).message)).toContain('session');
      expect(largest()).toBeLessThanOrEqual(SESSION_CAP);
      // The store still works, and the row can be replaced or removed without being read.
      await store.protocol.saveSession(alice, record);
      expect(await store.protocol.getSession(alice)).not.toBeNull();
      await store.app.put('x', utf8('1'));
      expect(largest()).toBeLessThanOrEqual(SESSION_CAP);
    });
  }

  it('a listing leaves an oversized row out, unread', async () => {
    const db = dbs.open();
    const store = await SqliteStore.open(db, { ratchet });
    await store.resend.apply({ put: { id: 'kept', savedAt: 1, record: utf8('r') }, remove: [] });
    db.prepare("INSERT INTO kv (t, k, v) VALUES ('resend', 'huge', zeroblob(?))").run(HUGE);
    // The resend cap is 64 MiB: make this row longer than a smaller bound given to the backend.
    const backend = new SqliteBackend(db);
    const largest = largestReturned(db);
    expect((await backend.list('resend', HUGE - 1)).map(([k]) => k)).toEqual(['kept']);
    expect(largest()).toBeLessThan(HUGE);
  });
});

describe('SqliteBackend: commit checks never read an oversized row', () => {
  const setup = () => {
    const db = dbs.open();
    const backend = new SqliteBackend(db);
    db.prepare("INSERT INTO kv (t, k, v) VALUES ('app', 'huge', zeroblob(?))").run(HUGE);
    return { db, backend, largest: largestReturned(db) };
  };

  it('ifAbsent over an oversized row: refused (the row exists), unread', async () => {
    const { backend, largest } = setup();
    const err = await failure(
      backend.commit([{ table: 'app', key: 'huge', value: utf8('x'), ifAbsent: true }]),
    );
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(largest()).toBeLessThan(HUGE);
  });

  it('ifPresent over an oversized row: passes (the row exists), unread', async () => {
    const { db, backend, largest } = setup();
    await backend.commit([{ table: 'app', key: 'huge', value: null, ifPresent: true }]);
    expect(db.prepare("SELECT count(*) AS n FROM kv WHERE t = 'app'").get()).toEqual({ n: 0 });
    expect(largest()).toBeLessThan(HUGE);
  });

  it('ifValue against an oversized row: refused (other bytes), unread', async () => {
    const { backend, largest } = setup();
    const err = await failure(
      backend.commit([{ table: 'app', key: 'huge', value: utf8('x'), ifValue: Uint8Array.of(0) }]),
    );
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(largest()).toBeLessThan(HUGE);
  });

  it('get with maxBytes: a row of exactly maxBytes is returned, one byte more is refused', async () => {
    const db = dbs.open();
    const backend = new SqliteBackend(db);
    db.prepare(
      "INSERT INTO kv (t, k, v) VALUES ('app', 'a', zeroblob(10)), ('app', 'b', zeroblob(11))",
    ).run();
    expect((await backend.get('app', 'a', 10))?.length).toBe(10);
    expect(E2eeError.is(await failure(backend.get('app', 'b', 10)), 'DECODE')).toBe(true);
    expect((await backend.get('app', 'b'))?.length).toBe(11);
  });
});
