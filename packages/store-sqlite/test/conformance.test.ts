/** Every conformance suite against the SQLite store on real database files (WAL mode) in a temp dir. */
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();

describe('SqliteStore (file, WAL)', () => {
  it('opens in WAL mode', async () => {
    const db = dbs.open();
    await SqliteStore.open(db, { ratchet, senderKeys });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
  });
  it('a commit that fails after its first statement rolls back: the file is as before', async () => {
    let failAt = -1;
    const store = await SqliteStore.open(dbs.open(), {
      onStatement: (i) => {
        if (i === failAt) throw new Error('injected');
      },
    });
    await store.app.put('a', utf8('before'));
    failAt = 1;
    const err = await store
      .transaction(async (tx) => {
        await tx.app.put('a', utf8('after'));
        await tx.app.put('b', utf8('new'));
        await tx.app.put('c', utf8('new'));
      })
      .catch((e) => e);
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    failAt = -1;
    expect(new TextDecoder().decode(await store.app.get('a'))).toBe('before');
    expect(await store.app.get('b')).toBeUndefined();
  });

  runKvStoreConformance({ describe, it, expect }, (o) => SqliteStore.open(dbs.open(), o), {
    ratchet,
    senderKeys,
  });
});

describe('SqliteStore sealed (file, WAL)', () => {
  runKvStoreConformance(
    { describe, it, expect },
    (o) => SqliteStore.open(dbs.open(), { ...o, encryptionKey: new Uint8Array(32).fill(9) }),
    { ratchet, senderKeys },
  );
});
