/**
 * Rows copied under another row's key by someone with write access to the database (or a buggy
 * migration): a pre-key row copied under another id, a session of one peer under another's address,
 * a resend row under another id. What carries its own key (pre-key records name their id, resend rows
 * their id) is refused when it is read under another; a sealed value moved to another row does not
 * open at all. A plain session names no address: copied under another peer, it is read as that
 * peer's (what the README says plain stores cannot detect).
 */
import {
  createAddress,
  DecodeError,
  defaultProvider,
  E2eeError,
  KeyPair,
  utf8,
  VerificationError,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

/** The error `f` throws or rejects with (argument checks throw before a promise exists). */
const failure = (f: () => Promise<unknown>) =>
  Promise.resolve()
    .then(f)
    .then(
      () => undefined,
      (e: unknown) => e,
    );

/** Copies the stored bytes of row `from` to row `to` of `table`, as another tool would. */
async function copyRow(
  backend: MemoryKvBackend,
  table: 'prekey' | 'signed_prekey' | 'kyber_prekey' | 'resend' | 'session',
  from: string,
  to: string,
) {
  const bytes = backend.snapshot().get(`${table}\u0000${from}`);
  if (bytes === undefined) throw new Error(`no ${table} row ${from}`);
  await backend.commit([{ table, key: to, value: bytes }]);
}

describe('plain store: a pre-key row copied under another id', () => {
  it('one-time pre-key 8 read as pre-key 7 is a DecodeError; nothing changes', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const [p7, p8] = await ratchet.generatePreKeys(7, 2);
    await store.protocol.savePreKey(7, p7 as ratchet.PreKeyRecord);
    await store.protocol.savePreKey(8, p8 as ratchet.PreKeyRecord);
    await copyRow(backend, 'prekey', '8', '7');
    const before = backend.snapshot();
    const err = await failure(() => store.protocol.getPreKey(7));
    expect(err).toBeInstanceOf(DecodeError);
    expect(E2eeError.is(err, 'DECODE')).toBe(true);
    expect((await store.protocol.getPreKey(8))?.id).toBe(8);
    expect(backend.snapshot()).toEqual(before);
  });

  it('signed pre-key 4 read as 3 is a DecodeError', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const identity = await store.protocol.getIdentityKeyPair();
    await store.protocol.saveSignedPreKey(3, await ratchet.generateSignedPreKey(identity, 3));
    await store.protocol.saveSignedPreKey(4, await ratchet.generateSignedPreKey(identity, 4));
    await copyRow(backend, 'signed_prekey', '4', '3');
    expect(await failure(() => store.protocol.getSignedPreKey(3))).toBeInstanceOf(DecodeError);
  });

  it('a one-time Kyber pre-key copied over the last-resort one: read and markKyberPreKeyUsed refuse it, nothing consumed', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const identity = await store.protocol.getIdentityKeyPair();
    await store.protocol.saveKyberPreKey(5, await ratchet.generateKyberPreKey(identity, 5));
    await store.protocol.saveKyberPreKey(
      6,
      await ratchet.generateKyberPreKey(identity, 6, { lastResort: true }),
    );
    await copyRow(backend, 'kyber_prekey', '5', '6');
    const before = backend.snapshot();
    expect(await failure(() => store.protocol.getKyberPreKey(6))).toBeInstanceOf(DecodeError);
    // Read as the one-time key it is, row 6 (the last-resort key's) would have been consumed.
    const base = (await KeyPair.generate(defaultProvider)).publicKey;
    expect(await failure(() => store.protocol.markKyberPreKeyUsed(6, 1, base))).toBeInstanceOf(DecodeError);
    expect(backend.snapshot()).toEqual(before);
  });

  it('a pre-key record saved under another id is refused at write (RangeError), nothing stored', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const identity = await store.protocol.getIdentityKeyPair();
    const [p8] = await ratchet.generatePreKeys(8, 1);
    const before = backend.snapshot();
    expect(await failure(() => store.protocol.savePreKey(7, p8 as ratchet.PreKeyRecord))).toBeInstanceOf(
      RangeError,
    );
    const spk = await ratchet.generateSignedPreKey(identity, 4);
    expect(await failure(() => store.protocol.saveSignedPreKey(3, spk))).toBeInstanceOf(RangeError);
    const kyber = await ratchet.generateKyberPreKey(identity, 5);
    expect(await failure(() => store.protocol.saveKyberPreKey(6, kyber))).toBeInstanceOf(RangeError);
    expect(backend.snapshot()).toEqual(before);
  });
});

describe('plain store: a resend row copied under another id', () => {
  it('resend.get(id) of a row holding another id is a DecodeError', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    await store.resend.apply({ put: { id: 'r1', savedAt: 1, record: utf8('one') }, remove: [] });
    await store.resend.apply({ put: { id: 'r2', savedAt: 2, record: utf8('two') }, remove: [] });
    await copyRow(backend, 'resend', 'r2', 'r1');
    expect(await failure(() => store.resend.get('r1'))).toBeInstanceOf(DecodeError);
    expect(new TextDecoder().decode((await store.resend.get('r2')) as Uint8Array)).toBe('two');
  });

  it('resend.list leaves the copy out: each id once, as its own row holds it, and removing it empties the list', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    await store.resend.apply({ put: { id: 'r2', savedAt: 2, record: utf8('two') }, remove: [] });
    const older = backend.snapshot().get('resend\u0000r2') as Uint8Array;
    await store.resend.apply({ put: { id: 'r2', savedAt: 5, record: utf8('two, later') }, remove: [] });
    // An older r2 copied under another id: listed, it named r2 twice (or shadowed the real one), and
    // removing r2 — all a prune can do — left the copy listed as r2 for good.
    await backend.commit([{ table: 'resend', key: 'zz', value: older }]);
    expect(await store.resend.list()).toEqual([{ id: 'r2', savedAt: 5 }]);
    await store.resend.apply({ remove: ['r2'] });
    expect(await store.resend.list()).toEqual([]);
  });
});

describe('sealed store: a value moved to another row does not open', () => {
  const encryptionKey = new Uint8Array(32).fill(4);

  it("alice's session row moved to carol's address, or edited in place: VerificationError (AEAD_TAG_MISMATCH)", async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet, encryptionKey });
    const me = createAddress('bob', 1);
    for (const name of ['alice', 'carol']) {
      const party = await createTestParty(name, 1);
      const c = party.cipher(me);
      await c.initiate(await ratchet.createPreKeyBundle(store.protocol, { deviceId: 1 }));
      await new ratchet.SessionCipher(store.protocol, party.address).decrypt(await c.encrypt(utf8('hi')));
    }
    // Row keys are HMACs: find each address's row by the value that changes when its session does.
    const rows = () => [...backend.snapshot()].filter(([k]) => k.startsWith('session\u0000'));
    const carol = createAddress('carol', 1);
    const before = new Map(rows());
    await store.protocol.removeSession(carol);
    const carolKey = [...before.keys()].find((k) => !new Map(rows()).has(k)) as string;
    const aliceKey = [...before.keys()].find((k) => k !== carolKey) as string;
    await backend.commit([
      { table: 'session', key: carolKey.slice(8), value: before.get(aliceKey) as Uint8Array },
    ]);
    const err = await failure(() => store.protocol.getSession(carol));
    expect(err).toBeInstanceOf(VerificationError);
    expect(E2eeError.is(err, 'AEAD_TAG_MISMATCH')).toBe(true);
    // One byte of alice's own row changed in place: it does not open either.
    const edited = (before.get(aliceKey) as Uint8Array).slice();
    edited[edited.length - 20] = (edited[edited.length - 20] as number) ^ 1;
    await backend.commit([{ table: 'session', key: aliceKey.slice(8), value: edited }]);
    const alice = createAddress('alice', 1);
    expect(E2eeError.is(await failure(() => store.protocol.getSession(alice)), 'AEAD_TAG_MISMATCH')).toBe(
      true,
    );
  });
});

describe('plain store: what it cannot detect', () => {
  it("a session copied under another peer's address is read as that peer's (no address in a session record)", async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const me = createAddress('bob', 1);
    const alice = await createTestParty('alice', 1);
    const c = alice.cipher(me);
    await c.initiate(await ratchet.createPreKeyBundle(store.protocol, { deviceId: 1 }));
    await new ratchet.SessionCipher(store.protocol, alice.address).decrypt(await c.encrypt(utf8('hi')));
    await copyRow(backend, 'session', 'alice.1', 'carol.1');
    const read = await store.protocol.getSession(createAddress('carol', 1));
    expect(read?.serialize()).toEqual((await store.protocol.getSession(alice.address))?.serialize());
  });
});

describe('rollback: what neither a plain nor a sealed store can detect', () => {
  for (const sealed of [false, true]) {
    const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(6) } : {}) };
    it(`${sealed ? 'sealed' : 'plain'}: a consumed one-time pre-key put back from an older copy reads as present again`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      const [pk] = await ratchet.generatePreKeys(9, 1);
      await store.protocol.savePreKey(9, pk as ratchet.PreKeyRecord);
      const older = backend.snapshot();
      await store.protocol.removePreKey(9);
      expect(await store.protocol.getPreKey(9)).toBeNull();
      // The older copy's rows written back as they were (a restored backup, a file copied back).
      await backend.commit(
        [...older].map(([k, value]) => {
          const at = k.indexOf('\u0000');
          return { table: k.slice(0, at) as 'prekey', key: k.slice(at + 1), value };
        }),
      );
      expect((await store.protocol.getPreKey(9))?.id).toBe(9);
    });

    it(`${sealed ? 'sealed' : 'plain'}: a deleted identity row lets the next key in as new, not replaced`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      const carol = createAddress('carol', 1);
      const key = async () => (await KeyPair.generate(defaultProvider)).publicKey;
      await store.protocol.saveIdentity(carol, await key());
      const rows = [...backend.snapshot().keys()].filter((k) => k.startsWith('identity\u0000'));
      expect(rows).toHaveLength(1);
      await backend.commit([{ table: 'identity', key: (rows[0] as string).slice(9), value: null }]);
      expect((await store.protocol.saveIdentity(carol, await key())).kind).toBe('new');
    });
  }
});
