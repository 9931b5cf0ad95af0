/**
 * At-rest encryption on a real file: after a real session, pre-keys of every kind and a sender-key
 * chain, the raw database file contains no 16-byte run of any stored record (private keys included),
 * while the same steps on an unsealed store do leave the identity private key in the file (so the
 * search can fail). Also: a wrong key, a missing key, a value moved to another row.
 */
import { existsSync, readFileSync } from 'node:fs';
import { E2eeError, utf8, VerificationError } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { countLeaks, fillWithSecrets } from '@e2ee-kit/store-kv/testing';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const KEY = new Uint8Array(32).fill(0x5a);
function rawFile(path: string): Buffer {
  const parts = [readFileSync(path)];
  if (existsSync(`${path}-wal`)) parts.push(readFileSync(`${path}-wal`));
  return Buffer.concat(parts);
}

const leaks = (raw: Buffer, secrets: Uint8Array[]) => countLeaks([raw], secrets);

describe('SqliteStore at-rest encryption', () => {
  it('a copied sealed file holds no run of any private key or record; an unsealed one does', async () => {
    const sealedPath = dbs.path();
    const sealedDb = dbs.open(sealedPath);
    const sealedSecrets = await fillWithSecrets(
      await SqliteStore.open(sealedDb, { ratchet, senderKeys, encryptionKey: KEY }),
    );
    const plainPath = dbs.path();
    const plainDb = dbs.open(plainPath);
    const plainSecrets = await fillWithSecrets(await SqliteStore.open(plainDb, { ratchet, senderKeys }));
    // Read both with and without a checkpoint: the WAL is part of a copied database too.
    expect(leaks(rawFile(sealedPath), sealedSecrets)).toBe(0);
    expect(rawFile(plainPath).indexOf(plainSecrets[0] as Uint8Array)).not.toBe(-1);
    sealedDb.pragma('wal_checkpoint(TRUNCATE)');
    plainDb.pragma('wal_checkpoint(TRUNCATE)');
    expect(leaks(rawFile(sealedPath), sealedSecrets)).toBe(0);
    expect(leaks(rawFile(plainPath), plainSecrets)).toBeGreaterThan(100);
    // Row keys are HMACs: no address is readable either.
    expect(rawFile(sealedPath).indexOf('alice')).toBe(-1);
    expect(rawFile(plainPath).indexOf('alice')).not.toBe(-1);
  });

  it('reopens with the same key; a wrong or missing key is STORE_KEY_MISMATCH', async () => {
    const path = dbs.path();
    const first = await SqliteStore.open(dbs.open(path), { ratchet, senderKeys, encryptionKey: KEY });
    const pub = (await first.protocol.getIdentityKeyPair()).publicKey;
    await first.app.put('note', utf8('kept'));
    const again = await SqliteStore.open(dbs.open(path), { ratchet, senderKeys, encryptionKey: KEY });
    expect((await again.protocol.getIdentityKeyPair()).publicKey.equals(pub)).toBe(true);
    expect(new TextDecoder().decode(await again.app.get('note'))).toBe('kept');
    const wrong = await SqliteStore.open(dbs.open(path), { encryptionKey: new Uint8Array(32) }).catch(
      (e) => e,
    );
    expect(E2eeError.is(wrong, 'STORE_KEY_MISMATCH')).toBe(true);
    const none = await SqliteStore.open(dbs.open(path)).catch((e) => e);
    expect(E2eeError.is(none, 'STORE_KEY_MISMATCH')).toBe(true);
    await expect(SqliteStore.open(dbs.open(), { encryptionKey: new Uint8Array(31) })).rejects.toThrow(
      RangeError,
    );
  });

  it('a sealed value moved to another row does not open (VerificationError)', async () => {
    const db = dbs.open();
    const store = await SqliteStore.open(db, { encryptionKey: KEY });
    await store.app.put('a', utf8('secret a'));
    await store.app.put('b', utf8('secret b'));
    const rows = db.prepare("SELECT k, v FROM kv WHERE t = 'app'").all() as { k: string; v: Buffer }[];
    expect(rows.length).toBe(2);
    const [ra, rb] = rows as [{ k: string; v: Buffer }, { k: string; v: Buffer }];
    db.prepare("UPDATE kv SET v = ? WHERE t = 'app' AND k = ?").run(ra.v, rb.k);
    const results = await Promise.allSettled([store.app.get('a'), store.app.get('b')]);
    expect(
      results.filter((r) => r.status === 'rejected' && r.reason instanceof VerificationError).length,
    ).toBe(1);
    // Truncated garbage is a typed DecodeError, not a crash.
    db.prepare("UPDATE kv SET v = ? WHERE t = 'app'").run(Buffer.from([1, 2, 3]));
    const bad = await store.app.get('a').catch((e) => e);
    expect(E2eeError.is(bad, 'DECODE')).toBe(true);
  });
});
