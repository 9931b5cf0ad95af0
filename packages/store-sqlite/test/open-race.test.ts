/** Two connections on one file (as two processes would) racing to create it and to consume a pre-key. */
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

  it('two connections racing to remove one one-time pre-key: exactly one commit succeeds', async () => {
    const path = dbs.path();
    const one = await SqliteStore.open(dbs.open(path), { ratchet });
    const two = await SqliteStore.open(dbs.open(path), { ratchet });
    const [pk] = await ratchet.generatePreKeys(1, 1);
    await one.protocol.savePreKey(1, pk as ratchet.PreKeyRecord);
    let release!: () => void;
    const bothStepped = new Promise<void>((r) => {
      release = r;
    });
    let n = 0;
    const consume = (s: typeof one) =>
      s.transaction(async (tx) => {
        await tx.protocol.removePreKey(1);
        if (++n === 2) release();
        await bothStepped;
      });
    const results = await Promise.allSettled([consume(one), consume(two)]);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    expect(await two.protocol.getPreKey(1)).toBeNull();
  });
});
