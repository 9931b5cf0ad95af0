/**
 * The README's promises about the stored format and damaged rows, each as a test: a format row that
 * is malformed, from a newer version or from no version is STORE_FORMAT; identity rows missing under
 * a format row are STORE_FORMAT; a key for a plain store, none for a sealed one or the wrong one is
 * STORE_KEY_MISMATCH — each leaving the database as it was; a row over its cap can still be replaced
 * or deleted; a stored identity key with an unknown type byte is INVALID_KEY.
 */
import { createAddress, E2eeError, KeyPair, platformProvider, toHex, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore, MAX_VALUE_BYTES, STORE_FORMAT_VERSION, StoreErrorCode } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );
const alice = createAddress('alice', 1);
const newKey = async () => (await KeyPair.generate(platformProvider)).publicKey;

describe('the format row', () => {
  const edits: [string, Uint8Array][] = [
    ['not JSON', utf8('{"version":1,')],
    ['not UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d)],
    ['JSON null', utf8('null')],
    ['no sealed flag', utf8('{"version":1}')],
    ['sealed as a string', utf8('{"version":1,"sealed":"false"}')],
    ['version as a string', utf8('{"version":"1","sealed":false}')],
    ['a fractional version', utf8('{"version":1.5,"sealed":false}')],
    ['version 0', utf8('{"version":0,"sealed":false}')],
    ['a newer version', utf8(`{"version":${STORE_FORMAT_VERSION + 1},"sealed":false}`)],
    ['empty', new Uint8Array(0)],
  ];
  // Over the cap the row is refused by its length before it is parsed: a DecodeError.
  const cases: [string, Uint8Array, 'STORE_FORMAT' | 'DECODE'][] = [
    ...edits.map(([what, value]): [string, Uint8Array, 'STORE_FORMAT' | 'DECODE'] => [
      what,
      value,
      StoreErrorCode.StoreFormat,
    ]),
    ['over the meta cap', new Uint8Array(MAX_VALUE_BYTES.meta + 1).fill(0x20), 'DECODE'],
  ];
  for (const [what, value, code] of cases) {
    it(`${what}: ${code}, the database left as it was`, async () => {
      const backend = new MemoryKvBackend();
      await KvStore.open(backend, { ratchet });
      await backend.commit([{ table: 'meta', key: 'format', value }]);
      const before = backend.snapshot();
      const err = await failure(KvStore.open(backend, { ratchet }));
      expect(E2eeError.is(err, code), String(err)).toBe(true);
      expect(backend.snapshot()).toEqual(before);
    });
  }

  for (const row of ['identity_key_pair', 'registration_id']) {
    it(`the ${row} row missing under a format row: STORE_FORMAT, nothing written`, async () => {
      const backend = new MemoryKvBackend();
      await KvStore.open(backend, { ratchet });
      await backend.commit([{ table: 'meta', key: row, value: null }]);
      const before = backend.snapshot();
      const err = await failure(KvStore.open(backend, { ratchet }));
      expect(E2eeError.is(err, StoreErrorCode.StoreFormat), String(err)).toBe(true);
      expect(backend.snapshot()).toEqual(before);
    });
  }
});

describe('STORE_KEY_MISMATCH', () => {
  const key = new Uint8Array(32).fill(1);
  const cases: [string, Uint8Array | undefined, Uint8Array | undefined][] = [
    ['a key for a plain store', undefined, key],
    ['no key for a sealed store', key, undefined],
    ['the wrong key for a sealed store', key, new Uint8Array(32).fill(2)],
  ];
  for (const [what, created, opened] of cases) {
    it(`${what}, the database left as it was`, async () => {
      const backend = new MemoryKvBackend();
      await KvStore.open(backend, { ratchet, ...(created ? { encryptionKey: created } : {}) });
      const before = backend.snapshot();
      const err = await failure(
        KvStore.open(backend, { ratchet, ...(opened ? { encryptionKey: opened } : {}) }),
      );
      expect(E2eeError.is(err, StoreErrorCode.StoreKeyMismatch), String(err)).toBe(true);
      expect(backend.snapshot()).toEqual(before);
    });
  }
});

describe('a row over its cap can still be replaced or deleted', () => {
  for (const sealed of [false, true]) {
    const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {}) };
    const kind = sealed ? 'sealed' : 'plain';

    /** Makes the one row of `table` (the value just stored) longer than its cap. */
    async function inflate(backend: MemoryKvBackend, table: 'session' | 'identity' | 'app') {
      const keys = [...backend.snapshot().keys()].filter((k) => k.startsWith(`${table}\u0000`));
      expect(keys).toHaveLength(1);
      const key = (keys[0] as string).slice(table.length + 1);
      await backend.commit([{ table, key, value: new Uint8Array(MAX_VALUE_BYTES[table] + 30) }]);
    }

    it(`${kind}: a session, an app row`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      const record = new ratchet.SessionRecord();
      await store.protocol.saveSession(alice, record);
      await inflate(backend, 'session');
      expect(E2eeError.is(await failure(store.protocol.getSession(alice)), 'DECODE')).toBe(true);
      await store.protocol.saveSession(alice, record);
      expect(toHex((await store.protocol.getSession(alice))?.serialize() as Uint8Array)).toBe(
        toHex(record.serialize()),
      );
      await inflate(backend, 'session');
      await store.protocol.removeSession(alice);
      expect(await store.protocol.getSession(alice)).toBeNull();

      await store.app.put('k', utf8('v'));
      await inflate(backend, 'app');
      await store.app.put('k', utf8('w'));
      expect(new TextDecoder().decode((await store.app.get('k')) as Uint8Array)).toBe('w');
      await inflate(backend, 'app');
      await store.app.delete('k');
      expect(await store.app.get('k')).toBeUndefined();
    });

    it(`${kind}: an identity key`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      await store.protocol.saveIdentity(alice, await newKey());
      await inflate(backend, 'identity');
      expect(E2eeError.is(await failure(store.protocol.getIdentity(alice)), 'DECODE')).toBe(true);
      await store.protocol.removeIdentity(alice);
      expect(await store.protocol.getIdentity(alice)).toBeNull();
      const next = await newKey();
      await store.protocol.saveIdentity(alice, next);
      expect((await store.protocol.getIdentity(alice))?.equals(next)).toBe(true);
    });
  }
});

it('a stored identity key with an unknown type byte is INVALID_KEY', async () => {
  const backend = new MemoryKvBackend();
  const store = await KvStore.open(backend, { ratchet });
  await store.protocol.saveIdentity(alice, await newKey());
  const edited = new Uint8Array(33).fill(7); // 0x05 is the only type byte (Curve25519)
  await backend.commit([{ table: 'identity', key: 'identity:alice.1', value: edited }]);
  expect(E2eeError.is(await failure(store.protocol.getIdentity(alice)), 'INVALID_KEY')).toBe(true);
});
