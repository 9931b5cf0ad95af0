/** Every conformance suite against the SQLite store on real database files (WAL mode) in a temp dir. */
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
