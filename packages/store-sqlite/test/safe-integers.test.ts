/**
 * A Database the app set to `defaultSafeIntegers(true)` (better-sqlite3 then hands every INTEGER
 * back as a BigInt, for the app's own 64-bit columns): the store's own integers — the schema version,
 * the lock rows' times — must still read as what they are. Before, the version 1 the store had just
 * written came back as `1n` and the next open refused the file as STORE_FORMAT, and a lock held by
 * another connection made `run` fail (BigInt mixed with a number) instead of waiting.
 */
import { utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { SqliteLockManager, SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();

function bigintDatabase(path: string) {
  const db = dbs.open(path);
  db.defaultSafeIntegers(true);
  return db;
}

describe('a database whose app reads integers as BigInt', () => {
  it('opens again (schema version 1 is version 1) and keeps its rows', async () => {
    const path = dbs.path();
    const first = await SqliteStore.open(bigintDatabase(path), { ratchet, senderKeys });
    await first.app.put('x', utf8('kept'));
    const again = await SqliteStore.open(bigintDatabase(path), { ratchet, senderKeys });
    expect(await again.app.get('x')).toEqual(utf8('kept'));
    expect(await again.protocol.getLocalRegistrationId()).toBe(await first.protocol.getLocalRegistrationId());
  });

  it('SqliteLockManager: a second connection waits for the holder, then runs', async () => {
    const path = dbs.path();
    const one = new SqliteLockManager(bigintDatabase(path), { pollMs: 2, timeoutMs: 10_000 });
    const two = new SqliteLockManager(bigintDatabase(path), { pollMs: 2, timeoutMs: 10_000 });
    const order: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => {
      release = r;
    });
    let entered!: () => void;
    const inside = new Promise<void>((r) => {
      entered = r;
    });
    const first = one.run('k', async () => {
      order.push('one in');
      entered();
      await held;
      order.push('one out');
    });
    await inside;
    const second = two
      .run('k', async () => {
        order.push('two in');
      })
      .then(
        () => 'ran',
        (e: unknown) => e,
      );
    // The second connection polls against a live row (the comparison that mixed BigInt and number).
    await new Promise((r) => setTimeout(r, 30));
    release();
    await first;
    expect(await second).toBe('ran');
    expect(order).toEqual(['one in', 'one out', 'two in']);
  });
});
