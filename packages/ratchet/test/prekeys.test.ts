// Pre-key generation, the pre-key manager and bundles.
import { DecodeError, fromHex, KemType, PublicKey, platformProvider, xeddsaVerify } from '@e2ee-kit/core';
import {
  createPreKeyBundle,
  generateKyberPreKey,
  generatePreKeys,
  generateSignedPreKey,
  PreKeyBundle,
  PreKeyManager,
  PreKeyStateRecord,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

const DAY = 24 * 60 * 60 * 1000;
const provider = platformProvider;

describe('pre-key generation', () => {
  it('signed pre-keys carry an XEdDSA signature by the identity over the 33-byte key', async () => {
    const store = await InMemoryProtocolStore.create();
    const identity = await store.getIdentityKeyPair();
    const spk = await generateSignedPreKey(identity, 77, { timestamp: 1_700_000_000_123 });
    expect(spk.id).toBe(77);
    expect(spk.timestamp).toBe(1_700_000_000_123);
    expect(await xeddsaVerify(identity.publicKey, spk.publicKey.serialize(), spk.signature, provider)).toBe(
      true,
    );
    const other = await generateSignedPreKey(identity, 78);
    expect(await xeddsaVerify(identity.publicKey, other.publicKey.serialize(), spk.signature, provider)).toBe(
      false,
    );
  });

  it('Kyber pre-keys are Kyber-1024 (0x08), signed over the 1569-byte serialization', async () => {
    const store = await InMemoryProtocolStore.create();
    const identity = await store.getIdentityKeyPair();
    const k = await generateKyberPreKey(identity, 5, { lastResort: true });
    expect(k.publicKey.type).toBe(KemType.Kyber1024);
    expect(k.publicKey.serialize().length).toBe(1569);
    expect(k.publicKey.serialize()[0]).toBe(0x08);
    expect(k.lastResort).toBe(true);
    expect(await xeddsaVerify(identity.publicKey, k.publicKey.serialize(), k.signature, provider)).toBe(true);
  });

  it('one-time pre-keys: consecutive ids, distinct keys; id range checked', async () => {
    const keys = await generatePreKeys(0xffff_fffd, 3);
    expect(keys.map((k) => k.id)).toEqual([0xffff_fffd, 0xffff_fffe, 0xffff_ffff]);
    expect(new Set(keys.map((k) => k.publicKey.serialize().join())).size).toBe(3);
    await expect(generatePreKeys(0xffff_ffff, 2)).rejects.toThrow(RangeError);
  });
});

describe('PreKeyManager', () => {
  it('never reuses ids: the next id is persisted across manager instances and batches', async () => {
    const store = await InMemoryProtocolStore.create();
    const m1 = new PreKeyManager(store);
    const a = await m1.generatePreKeys(5);
    const m2 = new PreKeyManager(store);
    const b = await m2.generatePreKeys(5);
    const ids = [...a, ...b].map((k) => k.id);
    expect(new Set(ids).size).toBe(10);
    expect(ids).toEqual(Array.from({ length: 10 }, (_, i) => (a[0]?.id as number) + i));
    for (const k of b) expect((await store.getPreKey(k.id))?.serialize()).toEqual(k.serialize());
    const state = (await store.getPreKeyState()) as PreKeyStateRecord;
    expect(state.nextPreKeyId).toBe((b[4]?.id as number) + 1);
    // Concurrent batches still get disjoint ids.
    const [c, d] = await Promise.all([m1.generateKyberPreKeys(2), m2.generateKyberPreKeys(2)]);
    expect(new Set([...(c ?? []), ...(d ?? [])].map((k) => k.id)).size).toBe(4);
  });

  it('status: refill when the server runs low; rotate when old; keep the previous key for the grace period', async () => {
    let now = Date.UTC(2026, 0, 1);
    const store = await InMemoryProtocolStore.create();
    const m = new PreKeyManager(store, {
      now: () => now,
      minPreKeys: 10,
      batchSize: 50,
      gracePeriodMs: 30 * DAY,
    });
    let s = await m.status({ preKeys: 0, kyberPreKeys: 100 });
    expect(s).toEqual({
      refillPreKeys: 50,
      refillKyberPreKeys: 0,
      rotateSignedPreKey: true,
      rotateLastResortKyberPreKey: true,
      expiredKeys: 0,
    });
    const upload = await m.maintain({ preKeys: 0, kyberPreKeys: 100 });
    expect(upload.preKeys.length).toBe(50);
    expect(upload.kyberPreKeys.length).toBe(0);
    const first = upload.signedPreKey;
    expect(first).toBeDefined();
    expect(upload.lastResortKyberPreKey?.lastResort).toBe(true);
    s = await m.status({ preKeys: 50, kyberPreKeys: 100 });
    expect(s.rotateSignedPreKey).toBe(false);
    expect(s.refillPreKeys).toBe(0);

    now += 3 * DAY; // older than the 2-day rotation interval
    s = await m.status({ preKeys: 50, kyberPreKeys: 5 });
    expect(s.rotateSignedPreKey).toBe(true);
    expect(s.refillKyberPreKeys).toBe(50);
    const second = await m.rotateSignedPreKey();
    expect((await m.currentSignedPreKey())?.id).toBe(second.id);
    // The previous signed pre-key is still there for in-flight PreKey messages.
    expect(await store.getSignedPreKey(first?.id as number)).not.toBeNull();
    expect((await m.status({ preKeys: 50, kyberPreKeys: 50 })).expiredKeys).toBe(0);
    expect(await m.removeExpiredKeys()).toBe(0);

    now += 31 * DAY;
    expect((await m.status({ preKeys: 50, kyberPreKeys: 50 })).expiredKeys).toBe(1);
    expect(await m.removeExpiredKeys()).toBe(1);
    expect(await store.getSignedPreKey(first?.id as number)).toBeNull();
    expect(await store.getSignedPreKey(second.id)).not.toBeNull();
  });

  it('a PreKey message made with the previous signed pre-key still decrypts during the grace period', async () => {
    const bob = await InMemoryProtocolStore.create();
    const alice = await InMemoryProtocolStore.create();
    const { SessionCipher } = await import('@e2ee-kit/ratchet');
    const bundle = await createPreKeyBundle(bob, { deviceId: 1 });
    await new PreKeyManager(bob).rotateSignedPreKey();
    const a = new SessionCipher(alice, { name: 'bob', deviceId: 1 });
    await a.initiate(bundle);
    const out = await new SessionCipher(bob, { name: 'alice', deviceId: 1 }).decrypt(
      await a.encrypt(new TextEncoder().encode('old spk')),
    );
    expect(new TextDecoder().decode(out.plaintext)).toBe('old spk');
  });
});

describe('PreKeyBundle', () => {
  it('builds from server parts (bytes or key objects), round-trips through bytes and toParts', async () => {
    const store = await InMemoryProtocolStore.create();
    const bundle = await createPreKeyBundle(store, { deviceId: 3 });
    const parts = bundle.toParts();
    expect(parts.identityKey.length).toBe(33);
    expect(parts.kyberPreKey?.length).toBe(1569);
    const again = PreKeyBundle.from(parts);
    expect(again.serialize()).toEqual(bundle.serialize());
    expect(PreKeyBundle.deserialize(bundle.serialize()).toParts()).toEqual(parts);
    const withObjects = PreKeyBundle.from({
      ...parts,
      identityKey: PublicKey.deserialize(parts.identityKey),
    });
    expect(withObjects.serialize()).toEqual(bundle.serialize());
  });

  it('X3DH-style bundles (no Kyber, no one-time key) are representable', async () => {
    const store = await InMemoryProtocolStore.create();
    const b = await createPreKeyBundle(store, { deviceId: 1, kyberPreKey: false, preKey: false });
    expect(b.kyberPreKey).toBeUndefined();
    expect(b.preKey).toBeUndefined();
    expect(PreKeyBundle.deserialize(b.serialize()).toParts()).toEqual(b.toParts());
  });

  it('programmer errors are TypeError/RangeError; bad key bytes are DecodeError', async () => {
    const store = await InMemoryProtocolStore.create();
    const parts = (await createPreKeyBundle(store, { deviceId: 1 })).toParts();
    expect(() => PreKeyBundle.from({ ...parts, deviceId: 0 })).toThrow(RangeError);
    expect(() => PreKeyBundle.from({ ...parts, preKey: null })).toThrow(TypeError);
    expect(() => PreKeyBundle.from({ ...parts, kyberPreKeySignature: null })).toThrow(TypeError);
    expect(() => PreKeyBundle.from({ ...parts, identityKey: fromHex('05') })).toThrow(DecodeError);
    expect(() => PreKeyBundle.from({ ...parts, kyberPreKey: parts.kyberPreKey?.subarray(0, 100) })).toThrow(
      DecodeError,
    );
    expect(() => PreKeyBundle.from({ ...parts, signedPreKeySignature: new Uint8Array(10) })).toThrow(
      RangeError,
    );
  });
});

describe('PreKeyStateRecord', () => {
  it('round-trips and validates', () => {
    const r = new PreKeyStateRecord({
      nextPreKeyId: 1,
      nextSignedPreKeyId: 2,
      nextKyberPreKeyId: 3,
      currentSignedPreKeyId: 1,
      retiredSignedPreKeys: [{ id: 0, retiredAt: 5 }],
      currentLastResortKyberPreKeyId: 2,
      retiredLastResortKyberPreKeys: [],
    });
    expect(PreKeyStateRecord.deserialize(r.serialize())).toEqual(r);
    expect(() => r.with({ nextPreKeyId: -1 })).toThrow(RangeError);
  });
});
