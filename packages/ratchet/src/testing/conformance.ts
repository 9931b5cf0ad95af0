import { createAddress, defaultProvider, IdentityKeyPair, KeyPair, PublicKey, toHex } from '@e2ee-kit/core';
import {
  createPreKeyBundle,
  generateKyberPreKey,
  generatePreKeys,
  generateSignedPreKey,
  PreKeyStateRecord,
  type ProtocolStore,
  SessionCipher,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from './in-memory-store.js';

/** The brand a stored record carries in every copy of this package (see records/container.ts). */
const RECORD_KIND = Symbol.for('@e2ee-kit/ratchet/record@1');

/**
 * A `SessionRecord` of this copy or of another copy of the package: a store built on the other copy
 * (an app that loads two) decodes with that copy's class, which `SessionCipher` reads as its own.
 */
function isSessionRecord(value: unknown): value is SessionRecord {
  if (value instanceof SessionRecord) return true;
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as Record<symbol, unknown>)[RECORD_KIND] === 'SessionRecord'
  );
}

/** The bits of a test framework the suite needs (vitest, jest and node:test-with-expect all fit). */
export interface ConformanceTestApi {
  describe: (name: string, fn: () => void) => void;
  it: (name: string, fn: () => Promise<void>) => void;
  expect: (value: unknown) => {
    toBe(expected: unknown): void;
    toEqual(expected: unknown): void;
    toBeNull(): void;
    toBeTruthy(): void;
  };
}

/** What a store offers beyond the required contract, so the suite checks it too. */
export interface ConformanceOptions {
  /**
   * The store remembers last-resort `(kyberPreKeyId, signedPreKeyId, baseKey)` triples, refuses a
   * repeat, and forgets a key's triples when it is removed (see `markKyberPreKeyUsed`).
   */
  replayDetection?: boolean;
}

/**
 * Checks that a `ProtocolStore` keeps the contract `SessionCipher` relies on. `makeStore` must return
 * a fresh, empty store each time (with its own identity key pair and registration id). Run it from your
 * test file:
 *
 * ```ts
 * import { describe, expect, it } from 'vitest';
 * runProtocolStoreConformance(() => MyStore.open(':memory:'), { describe, it, expect });
 * ```
 */
export function runProtocolStoreConformance(
  makeStore: () => Promise<ProtocolStore>,
  t: ConformanceTestApi,
  options: ConformanceOptions = {},
): void {
  const { describe, it, expect } = t;
  const hex = (b: Uint8Array) => toHex(b);
  const alice = createAddress('alice', 1);
  const alice2 = createAddress('alice', 2);
  const bob = createAddress('bob', 1);

  describe('ProtocolStore conformance', () => {
    it('has an identity key pair and a registration id that stay the same', async () => {
      const s = await makeStore();
      const a = await s.getIdentityKeyPair();
      const b = await s.getIdentityKeyPair();
      // A pair of either copy of core (a store built on the other copy): `from` throws for anything else.
      const own = IdentityKeyPair.from(a, 'getIdentityKeyPair()');
      expect(own instanceof IdentityKeyPair).toBe(true);
      // The other copy's pair was read into a copy of ours, holding its private key: not kept.
      if (own !== a) own.privateKey.wipe();
      expect(hex(a.publicKey.serialize())).toBe(hex(b.publicKey.serialize()));
      const id = await s.getLocalRegistrationId();
      expect(Number.isInteger(id) && id >= 0 && id <= 0x7fffffff).toBe(true);
      expect(await s.getLocalRegistrationId()).toBe(id);
    });

    it('saves identities per address: new, unchanged, replaced; trusts the first key', async () => {
      const s = await makeStore();
      const k1 = (await KeyPair.generate(defaultProvider)).publicKey;
      const k2 = (await KeyPair.generate(defaultProvider)).publicKey;
      expect(await s.getIdentity(alice)).toBeNull();
      expect(await s.isTrustedIdentity(alice, k1, 'sending')).toBe(true);
      expect((await s.saveIdentity(alice, k1)).kind).toBe('new');
      expect((await s.saveIdentity(alice, k1)).kind).toBe('unchanged');
      expect(await s.getIdentity(alice2)).toBeNull();
      const got = await s.getIdentity(alice);
      expect(got !== null && PublicKey.from(got, 'getIdentity()').equals(k1)).toBe(true);
      expect((await s.saveIdentity(alice, k2)).kind).toBe('replaced');
      expect((await s.getIdentity(alice))?.equals(k2)).toBe(true);
      if (s.removeIdentity) {
        await s.removeIdentity(alice);
        expect(await s.getIdentity(alice)).toBeNull();
      }
    });

    it('stores session records per address, byte for byte, and removes them', async () => {
      const s = await makeStore();
      expect(await s.getSession(alice)).toBeNull();
      const record = await realSessionRecord();
      await s.saveSession(alice, record);
      expect(await s.getSession(alice2)).toBeNull();
      expect(await s.getSession(bob)).toBeNull();
      const got = await s.getSession(alice);
      expect(isSessionRecord(got)).toBe(true);
      expect(hex((got as SessionRecord).serialize())).toBe(hex(record.serialize()));
      await s.saveSession(alice, new SessionRecord());
      expect(hex((await s.getSession(alice))?.serialize() ?? new Uint8Array())).toBe(
        hex(new SessionRecord().serialize()),
      );
      await s.removeSession(alice);
      expect(await s.getSession(alice)).toBeNull();
    });

    it('does not let a returned record alias the stored one', async () => {
      const s = await makeStore();
      const record = await realSessionRecord();
      const before = hex(record.serialize());
      await s.saveSession(bob, record);
      record.archiveCurrentState();
      const got = await s.getSession(bob);
      expect(hex((got as SessionRecord).serialize())).toBe(before);
      (got as SessionRecord).archiveCurrentState();
      expect(hex(((await s.getSession(bob)) as SessionRecord).serialize())).toBe(before);
    });

    it('stores, returns and removes one-time pre-keys by id', async () => {
      const s = await makeStore();
      const [p1, p2] = await generatePreKeys(7, 2);
      if (!p1 || !p2) throw new Error('generatePreKeys returned too few keys');
      expect(await s.getPreKey(7)).toBeNull();
      await s.savePreKey(7, p1);
      await s.savePreKey(8, p2);
      expect(hex((await s.getPreKey(7))?.serialize() ?? new Uint8Array())).toBe(hex(p1.serialize()));
      await s.removePreKey(7);
      expect(await s.getPreKey(7)).toBeNull();
      expect(hex((await s.getPreKey(8))?.serialize() ?? new Uint8Array())).toBe(hex(p2.serialize()));
      await s.removePreKey(12345);
    });

    it('stores, returns and removes signed pre-keys by id', async () => {
      const s = await makeStore();
      const spk = await generateSignedPreKey(await s.getIdentityKeyPair(), 3, {
        timestamp: 1_700_000_000_000,
      });
      expect(await s.getSignedPreKey(3)).toBeNull();
      await s.saveSignedPreKey(3, spk);
      expect(hex((await s.getSignedPreKey(3))?.serialize() ?? new Uint8Array())).toBe(hex(spk.serialize()));
      await s.removeSignedPreKey(3);
      expect(await s.getSignedPreKey(3)).toBeNull();
    });

    it('stores Kyber pre-keys; marking a one-time key used deletes it, a last-resort key stays', async () => {
      const s = await makeStore();
      const identity = await s.getIdentityKeyPair();
      const oneTime = await generateKyberPreKey(identity, 10);
      const lastResort = await generateKyberPreKey(identity, 11, { lastResort: true });
      await s.saveKyberPreKey(10, oneTime);
      await s.saveKyberPreKey(11, lastResort);
      expect(hex((await s.getKyberPreKey(10))?.serialize() ?? new Uint8Array())).toBe(
        hex(oneTime.serialize()),
      );
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      await s.markKyberPreKeyUsed(10, 1, base);
      expect(await s.getKyberPreKey(10)).toBeNull();
      await s.markKyberPreKeyUsed(11, 1, base);
      expect((await s.getKyberPreKey(11))?.lastResort).toBe(true);
      await s.removeKyberPreKey(11);
      expect(await s.getKyberPreKey(11)).toBeNull();
    });

    if (options.replayDetection)
      it('refuses a repeated last-resort triple and forgets the triples naming a removed key', async () => {
        const s = await makeStore();
        const id = await s.getIdentityKeyPair();
        const saveLastResort = async (n: number) =>
          s.saveKyberPreKey(n, await generateKyberPreKey(id, n, { lastResort: true }));
        await saveLastResort(3);
        await saveLastResort(4);
        const base = (await KeyPair.generate(defaultProvider)).publicKey;
        const refused = (k: number, sp: number) =>
          s.markKyberPreKeyUsed(k, sp, base).then(
            () => false,
            () => true,
          );
        for (const [k, sp] of [
          [3, 1],
          [3, 2],
          [4, 1],
        ] as const)
          expect(await refused(k, sp)).toBe(false);
        expect(await refused(3, 1)).toBe(true);
        await s.removeSignedPreKey(1);
        // (3, 1) and (4, 1) are forgotten; (3, 2) is still remembered.
        expect([await refused(3, 2), await refused(3, 1), await refused(4, 1)]).toEqual([true, false, false]);
        await s.removeKyberPreKey(3);
        await saveLastResort(3);
        expect([await refused(3, 2), await refused(4, 1)]).toEqual([false, true]);
      });

    it('stores the pre-key state record', async () => {
      const s = await makeStore();
      expect(await s.getPreKeyState()).toBeNull();
      const st = new PreKeyStateRecord({
        nextPreKeyId: 5,
        nextSignedPreKeyId: 6,
        nextKyberPreKeyId: 7,
        currentSignedPreKeyId: 5,
        retiredSignedPreKeys: [{ id: 4, retiredAt: 1_700_000_000_000 }],
        retiredLastResortKyberPreKeys: [],
      });
      await s.savePreKeyState(st);
      expect(hex((await s.getPreKeyState())?.serialize() ?? new Uint8Array())).toBe(hex(st.serialize()));
    });

    it('runs a real session: bundle, PreKey message, reply', async () => {
      const bobStore = await makeStore();
      const aliceStore = await InMemoryProtocolStore.create();
      const bundle = await createPreKeyBundle(bobStore, { deviceId: 1 });
      const a = new SessionCipher(aliceStore, bob);
      await a.initiate(bundle);
      const first = await a.encrypt(new TextEncoder().encode('hello'));
      const b = new SessionCipher(bobStore, alice);
      const got = await b.decrypt(first);
      expect(new TextDecoder().decode(got.plaintext)).toBe('hello');
      expect(await b.hasSession()).toBe(true);
      const reply = await b.encrypt(new TextEncoder().encode('hi'));
      expect(reply.type).toBe('whisper');
      expect(new TextDecoder().decode((await a.decrypt(reply)).plaintext)).toBe('hi');
      expect(await bobStore.getPreKey(bundle.preKey?.id ?? -1)).toBeNull();
    });
  });
}

/** A record with a real current session (built in memory stores). */
async function realSessionRecord(): Promise<SessionRecord> {
  const a = await InMemoryProtocolStore.create();
  const b = await InMemoryProtocolStore.create();
  const bobAddr = createAddress('bob', 1);
  const cipher = new SessionCipher(a, bobAddr);
  await cipher.initiate(await createPreKeyBundle(b, { deviceId: 1 }));
  const record = await a.getSession(bobAddr);
  if (!record) throw new Error('session was not stored');
  return record;
}
