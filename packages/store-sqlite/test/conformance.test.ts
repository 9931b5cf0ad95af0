/** Every conformance suite against the SQLite store on real database files (WAL mode) in a temp dir. */
import { E2eeError } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { runFailingCommit, runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
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
    let failing = false;
    const store = await SqliteStore.open(dbs.open(), {
      onStatement: (i) => {
        if (failing && i === 1) throw new Error('injected');
      },
    });
    const r = await runFailingCommit(store, (on) => {
      failing = on;
    });
    expect(E2eeError.is(r.error, 'STORE')).toBe(true);
    expect([r.a, r.b]).toEqual(['before', undefined]);
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
