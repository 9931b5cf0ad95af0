/** Two connections (as two processes would) creating one new database file at once. */
import { toHex } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();

describe('SqliteStore first open', () => {
  it('two connections racing to create one file end with the identity the file holds', async () => {
    const path = dbs.path();
    const [a, b] = await Promise.all([
      SqliteStore.open(dbs.open(path), { ratchet }),
      SqliteStore.open(dbs.open(path), { ratchet }),
    ]);
    const later = await SqliteStore.open(dbs.open(path), { ratchet });
    const pub = async (s: typeof a) => toHex((await s.protocol.getIdentityKeyPair()).publicKey.serialize());
    expect(await pub(a)).toBe(await pub(later));
    expect(await pub(b)).toBe(await pub(later));
  });
});
