// Our ↔ our sessions, PQXDH and X3DH, on every crypto provider.
import {
  createAddress,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  generateKemKeyPair,
  InvalidKeyError,
  KemType,
  SessionNotFoundError,
  UntrustedIdentityError,
  VerificationError,
  xeddsaSign,
} from '@e2ee-kit/core';
import {
  ARCHIVED_STATES_MAX_LENGTH,
  type EncryptedMessage,
  MAX_RECEIVER_CHAINS,
  PreKeyBundle,
  PreKeySignalMessage,
  RatchetErrorCode,
  SessionCipher,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import {
  establishedPair,
  fromUtf8,
  makePair,
  prng,
  rejectsWithoutChange,
  roundTrip,
  utf8,
} from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;

describe.each(providersWithoutAeadUse)('sessions ($label)', ({ provider }) => {
  for (const x3dh of [false, true]) {
    const label = x3dh ? 'X3DH (v3)' : 'PQXDH (v4)';

    it(`${label}: conversation with direction changes and out-of-order delivery`, async () => {
      const p = await makePair(provider, { x3dh });
      const bundle = await p.bob.bundle(x3dh ? { kyberPreKey: false } : {});
      await p.a.initiate(bundle, x3dh ? { protocol: 'x3dh' } : {});
      const rnd = prng(x3dh ? 7 : 11);
      const queues: Record<'toA' | 'toB', { m: EncryptedMessage; text: string }[]> = { toA: [], toB: [] };
      let bobHasSession = false;
      let sent = 0;
      let received = 0;
      for (let step = 0; step < 120; step++) {
        const r = rnd(10);
        if (r < 3 || (r < 5 && bobHasSession)) {
          const fromAlice = r < 3 || !bobHasSession;
          const text = `m${sent++}`;
          const m = await (fromAlice ? p.a : p.b).encrypt(utf8(text));
          queues[fromAlice ? 'toB' : 'toA'].push({ m, text });
        } else {
          const key = r < 8 ? 'toB' : 'toA';
          const q = queues[key];
          if (q.length === 0) continue;
          // Deliver one of the three oldest messages (reordering within one chain or across a step).
          const [item] = q.splice(rnd(Math.min(3, q.length)), 1);
          if (!item) continue;
          const out = await (key === 'toB' ? p.b : p.a).decrypt(item.m);
          expect(fromUtf8(out.plaintext)).toBe(item.text);
          expect(out.sessionVersion).toBe(x3dh ? 3 : 4);
          if (key === 'toB') bobHasSession = true;
          received++;
        }
      }
      for (const key of ['toB', 'toA'] as const) {
        for (const item of queues[key]) {
          expect(fromUtf8((await (key === 'toB' ? p.b : p.a).decrypt(item.m)).plaintext)).toBe(item.text);
          received++;
        }
      }
      expect(received).toBe(sent);
      expect(sent).toBeGreaterThan(30);
    });

    it(`${label}: initiator sends PreKey messages until the first reply; wire versions`, async () => {
      const p = await makePair(provider, { x3dh });
      await p.a.initiate(
        await p.bob.bundle(x3dh ? { kyberPreKey: false } : {}),
        x3dh ? { protocol: 'x3dh' } : {},
      );
      const m1 = await p.a.encrypt(utf8('1'));
      const m2 = await p.a.encrypt(utf8('2'));
      expect([m1.type, m2.type]).toEqual(['prekey', 'prekey']);
      expect(m1.body[0]).toBe(x3dh ? 0x34 : 0x44);
      const pk = PreKeySignalMessage.deserialize(m1.body);
      expect(pk.messageVersion).toBe(x3dh ? 3 : 4);
      expect(pk.kyberCiphertext?.length).toBe(x3dh ? undefined : 1569);
      // v4: the braid's first message carries the first header chunk (version, epoch 1, index 1, Hdr).
      expect(pk.message.pqRatchet.length).toBe(x3dh ? 0 : 37);
      expect(pk.message.counter).toBe(0);
      expect(PreKeySignalMessage.deserialize(m2.body).message.counter).toBe(1);
      // Out of order: the second PreKey message first (same base key, one session).
      const r2 = await p.b.decrypt(m2);
      expect(r2.newSession).toBe(true);
      const r1 = await p.b.decrypt(m1);
      expect(r1.newSession).toBe(false);
      expect(fromUtf8(r1.plaintext)).toBe('1');
      expect((await p.bob.store.getSession(p.alice.address))?.archivedStateCount).toBe(0);
      const reply = await p.b.encrypt(utf8('r'));
      expect(reply.type).toBe('whisper');
      const sm = SignalMessage.deserialize(reply.body);
      expect(sm.counter).toBe(0);
      expect(sm.addresses).toBeUndefined();
      await p.a.decrypt(reply);
      expect((await p.a.encrypt(utf8('3'))).type).toBe('whisper');
    });
  }

  it('a one-time pre-key is removed and a one-time Kyber pre-key consumed on first use only', async () => {
    const p = await makePair(provider);
    const bundle = await p.bob.bundle();
    const preKeyId = bundle.preKey?.id as number;
    const kyberId = bundle.kyberPreKey?.id as number;
    await p.a.initiate(bundle);
    const m1 = await p.a.encrypt(utf8('1'));
    const m2 = await p.a.encrypt(utf8('2'));
    expect(await p.bob.store.getPreKey(preKeyId)).not.toBeNull();
    await p.b.decrypt(m1);
    expect(await p.bob.store.getPreKey(preKeyId)).toBeNull();
    expect(await p.bob.store.getKyberPreKey(kyberId)).toBeNull();
    expect(fromUtf8((await p.b.decrypt(m2)).plaintext)).toBe('2');
  });

  it('a last-resort Kyber pre-key stays and can start several sessions', async () => {
    const bob = await createTestParty('bob', 1, { provider });
    const bundle1 = await bob.bundle({ kyberPreKey: 'last-resort', preKey: false });
    const bundle2 = await bob.bundle({ kyberPreKey: 'last-resort', preKey: false });
    expect(bundle2.kyberPreKey?.id).toBe(bundle1.kyberPreKey?.id);
    for (const [name, bundle] of [
      ['carol', bundle1],
      ['dave', bundle2],
    ] as const) {
      const other = await createTestParty(name, 1, { provider });
      const c = other.cipher(bob);
      await c.initiate(bundle);
      await roundTrip(c, bob.cipher(other), `from ${name}`);
    }
    expect((await bob.store.getKyberPreKey(bundle1.kyberPreKey?.id as number))?.lastResort).toBe(true);
  });

  it('a new PreKey message from the peer replaces the session; the old one is archived and still decrypts', async () => {
    const p = await establishedPair(provider);
    const late = await p.a.encrypt(utf8('from the old session'));
    // Alice starts over (e.g. she reinstalled, or decided to reset).
    await p.a.initiate(await p.bob.bundle());
    const fresh = await p.a.encrypt(utf8('new session'));
    expect(fresh.type).toBe('prekey');
    const r = await p.b.decrypt(fresh);
    expect(r.newSession).toBe(true);
    expect((await p.bob.store.getSession(p.alice.address))?.archivedStateCount).toBe(1);
    // The message from the old session is decrypted by the archived state, which is promoted.
    expect(fromUtf8((await p.b.decrypt(late)).plaintext)).toBe('from the old session');
    await roundTrip(p.b, p.a, 'reply on the promoted state');
    await roundTrip(p.a, p.b, 'and back');
  });

  it('the peer re-initiating from scratch (lost state, same identity) replaces the session', async () => {
    const p = await establishedPair(provider);
    const identityKeyPair = await p.alice.store.getIdentityKeyPair();
    const reinstalled = await InMemoryProtocolStore.create({ provider, identityKeyPair });
    const a2 = new SessionCipher(reinstalled, p.bob.address, { provider });
    await a2.initiate(await p.bob.bundle());
    const r = await p.b.decrypt(await a2.encrypt(utf8('again')));
    expect(r.newSession).toBe(true);
    await roundTrip(p.b, a2, 'welcome back');
  });

  it(`keeps at most ${ARCHIVED_STATES_MAX_LENGTH} archived states`, async () => {
    const p = await makePair(provider);
    for (let i = 0; i < ARCHIVED_STATES_MAX_LENGTH + 3; i++) {
      await p.a.initiate(await p.bob.bundle({ preKey: false, kyberPreKey: 'last-resort' }));
    }
    const record = await p.alice.store.getSession(p.bob.address);
    expect(record?.archivedStateCount).toBe(ARCHIVED_STATES_MAX_LENGTH);
    await roundTrip(p.a, p.b, 'current one works');
  });

  it(`keeps ${MAX_RECEIVER_CHAINS} receiver chains: older delayed messages are lost, as in libsignal`, async () => {
    const p = await establishedPair(provider);
    const delayed: EncryptedMessage[] = [];
    for (let i = 0; i < MAX_RECEIVER_CHAINS + 1; i++) {
      delayed.push(await p.a.encrypt(utf8(`delayed ${i}`)));
      await p.a.encrypt(utf8('delivered')).then((m) => p.b.decrypt(m));
      await roundTrip(p.b, p.a, 'turn');
    }
    // delayed[0]'s chain was dropped (6 newer chains); delayed[1] is still in the newest five.
    const err = await rejectsWithoutChange([p.bob.store], () => p.b.decrypt(delayed[0] as EncryptedMessage));
    expect(E2eeError.is(err, RatchetErrorCode.InvalidMessage)).toBe(true);
    expect(fromUtf8((await p.b.decrypt(delayed[2] as EncryptedMessage)).plaintext)).toBe('delayed 2');
  });

  it('duplicates give DuplicateMessageError and change nothing (whisper and PreKey)', async () => {
    const p = await makePair(provider);
    await p.a.initiate(await p.bob.bundle());
    const first = await p.a.encrypt(utf8('first'));
    await p.b.decrypt(first);
    const dup1 = await rejectsWithoutChange([p.bob.store], () => p.b.decrypt(first));
    expect(dup1).toBeInstanceOf(DuplicateMessageError);
    const reply = await p.b.encrypt(utf8('reply'));
    await p.a.decrypt(reply);
    const dup2 = await rejectsWithoutChange([p.alice.store], () => p.a.decrypt(reply));
    expect(dup2).toBeInstanceOf(DuplicateMessageError);
    expect(E2eeError.is(dup2, ErrorCode.DuplicateMessage)).toBe(true);
  });

  it('a repeated PreKey message carrying another identity key than its session: IDENTITY_MISMATCH, nothing stored', async () => {
    const p = await makePair(provider);
    await p.a.initiate(await p.bob.bundle());
    await p.b.decrypt(await p.a.encrypt(utf8('first')));
    // Alice's second message is still a PreKey message with the same base key: it matches Bob's session.
    const second = await p.a.encrypt(utf8('second'));
    const parsed = PreKeySignalMessage.deserialize(second.body);
    // The identity key is outside the MAC: anyone on the path can swap it.
    const mallory = await createTestParty('mallory', 1, { provider });
    const swapped = PreKeySignalMessage.create({
      ...parsed,
      identityKey: (await mallory.store.getIdentityKeyPair()).publicKey,
    });
    const err = await rejectsWithoutChange([p.bob.store], () =>
      p.b.decrypt({ type: 'prekey', body: swapped.serialize() }),
    );
    expect(E2eeError.is(err, RatchetErrorCode.IdentityMismatch), String(err)).toBe(true);
    expect(fromUtf8((await p.b.decrypt(second)).plaintext)).toBe('second');
  });

  it('X3DH PreKey messages are refused unless acceptX3dh is set', async () => {
    const p = await makePair(provider);
    await p.a.initiate(await p.bob.bundle({ kyberPreKey: false }), { protocol: 'x3dh' });
    const m = await p.a.encrypt(utf8('legacy'));
    const err = await rejectsWithoutChange([p.bob.store], () => p.b.decrypt(m));
    expect(E2eeError.is(err, RatchetErrorCode.X3dhNotAccepted)).toBe(true);
    const lenient = p.bob.cipher(p.alice, { acceptX3dh: true });
    expect(fromUtf8((await lenient.decrypt(m)).plaintext)).toBe('legacy');
  });

  it('refuses bad bundles with typed errors and changes nothing', async () => {
    const p = await makePair(provider);
    const good = await p.bob.bundle();
    const parts = good.toParts();
    const flip = (b: Uint8Array) => {
      const c = b.slice();
      c[5] = (c[5] as number) ^ 1;
      return c;
    };
    const stores = [p.alice.store];
    const badSpk = PreKeyBundle.from({ ...parts, signedPreKeySignature: flip(parts.signedPreKeySignature) });
    const e1 = await rejectsWithoutChange(stores, () => p.a.initiate(badSpk));
    expect(e1).toBeInstanceOf(VerificationError);
    expect(E2eeError.is(e1, ErrorCode.InvalidSignature)).toBe(true);
    const badKyber = PreKeyBundle.from({
      ...parts,
      kyberPreKeySignature: flip(parts.kyberPreKeySignature as Uint8Array),
    });
    expect(
      E2eeError.is(
        await rejectsWithoutChange(stores, () => p.a.initiate(badKyber)),
        ErrorCode.InvalidSignature,
      ),
    ).toBe(true);
    const noKyber = PreKeyBundle.from({
      ...parts,
      kyberPreKeyId: null,
      kyberPreKey: null,
      kyberPreKeySignature: null,
    });
    const e3 = await rejectsWithoutChange(stores, () => p.a.initiate(noKyber));
    expect(e3).toBeInstanceOf(InvalidKeyError);
    expect(E2eeError.is(e3, RatchetErrorCode.MissingKyberPreKey)).toBe(true);
    // ML-KEM-1024 (0x0A) is not what libsignal accepts: refused even when properly signed.
    const identity = await p.bob.store.getIdentityKeyPair();
    const mlkem = generateKemKeyPair(provider, KemType.MlKem1024).publicKey;
    const mlkemBundle = PreKeyBundle.from({
      ...parts,
      kyberPreKey: mlkem,
      kyberPreKeySignature: xeddsaSign(identity.privateKey, mlkem.serialize(), provider),
    });
    expect(await rejectsWithoutChange(stores, () => p.a.initiate(mlkemBundle))).toBeInstanceOf(
      InvalidKeyError,
    );
    // Unknown EC key type byte: the bundle cannot even be built.
    const badType = parts.signedPreKey.slice();
    badType[0] = 0x06;
    expect(() => PreKeyBundle.from({ ...parts, signedPreKey: badType })).toThrow(DecodeError);
    // The good bundle still works afterwards.
    await p.a.initiate(good);
    await roundTrip(p.a, p.b, 'ok');
  });

  it('untrusted identities are refused with the address and no key bytes', async () => {
    const alice = await createTestParty('alice', 1, { provider, store: { policy: 'blockOnChange' } });
    const bob = await createTestParty('bob', 1, { provider });
    const a = alice.cipher(bob);
    await a.initiate(await bob.bundle());
    await roundTrip(a, bob.cipher(alice), 'hi');
    // Bob's identity changes (new install); Alice's policy blocks until approved.
    const bob2 = await createTestParty('bob', 1, { provider });
    const bundle2 = await bob2.bundle();
    const e = await rejectsWithoutChange([alice.store], () => a.initiate(bundle2));
    expect(e).toBeInstanceOf(UntrustedIdentityError);
    expect((e as UntrustedIdentityError).address).toEqual({ name: 'bob', deviceId: 1 });
    expect(String((e as Error).message)).not.toMatch(/[0-9a-f]{16}/);
    // Incoming PreKey message from an untrusted identity.
    const carol = await createTestParty('alice', 1, { provider });
    const c = carol.cipher(bob);
    await c.initiate(await bob.bundle());
    const bobBlocking = await createTestParty('bob', 1, { provider, store: { policy: () => false } });
    const c2 = carol.cipher(bobBlocking);
    await c2.initiate(await bobBlocking.bundle());
    const incoming = await c2.encrypt(utf8('x'));
    const e2 = await rejectsWithoutChange([bobBlocking.store], () =>
      bobBlocking.cipher(carol).decrypt(incoming),
    );
    expect(e2).toBeInstanceOf(UntrustedIdentityError);
    await alice.store.approve(bob.address, bundle2.identityKey);
    await a.initiate(bundle2);
    await roundTrip(a, bob2.cipher(alice), 'approved');
  });

  it('an unanswered session goes stale after 30 days', async () => {
    let now = Date.UTC(2026, 0, 1);
    const alice = await createTestParty('alice', 1, { provider });
    const bob = await createTestParty('bob', 1, { provider });
    const a = alice.cipher(bob, { now: () => now });
    await a.initiate(await bob.bundle());
    expect(await a.hasSession()).toBe(true);
    await a.encrypt(utf8('still fresh'));
    now += 31 * DAY;
    expect(await a.hasSession()).toBe(false);
    expect(await rejectsWithoutChange([alice.store], () => a.encrypt(utf8('stale')))).toBeInstanceOf(
      SessionNotFoundError,
    );
  });

  it('no session: encrypt and whisper decrypt give SessionNotFoundError', async () => {
    const p = await establishedPair(provider);
    const stranger = await createTestParty('stranger', 1, { provider });
    const s = stranger.cipher(p.alice);
    expect(await s.hasSession()).toBe(false);
    expect(await rejectsWithoutChange([stranger.store], () => s.encrypt(utf8('x')))).toBeInstanceOf(
      SessionNotFoundError,
    );
    const whisper = await p.b.encrypt(utf8('not for you'));
    const err = await rejectsWithoutChange([stranger.store], () => stranger.cipher(p.bob).decrypt(whisper));
    expect(err).toBeInstanceOf(SessionNotFoundError);
    expect((err as SessionNotFoundError).address).toEqual(p.bob.address);
  });

  it('addresses field: written for ServiceId names in PreKey messages, checked on receipt', async () => {
    const p = await makePair(provider, { uuid: true });
    await p.a.initiate(await p.bob.bundle());
    const m = await p.a.encrypt(utf8('addressed'));
    const inner = PreKeySignalMessage.deserialize(m.body).message;
    expect(inner.addresses?.length).toBe(36);
    expect(inner.addresses?.[0]).toBe(0x00);
    expect(inner.addresses?.[17]).toBe(p.alice.deviceId);
    expect(inner.addresses?.[35]).toBe(p.bob.deviceId);
    // Delivered to the wrong device of Bob: refused.
    const wrong = new SessionCipher(p.bob.store, p.alice.address, {
      provider,
      localAddress: createAddress(p.bob.name, 3),
    });
    expect(
      E2eeError.is(
        await rejectsWithoutChange([p.bob.store], () => wrong.decrypt(m)),
        RatchetErrorCode.InvalidMessage,
      ),
    ).toBe(true);
    // Without our own address we cannot check it: refused too.
    const blind = new SessionCipher(p.bob.store, p.alice.address, { provider });
    await rejectsWithoutChange([p.bob.store], () => blind.decrypt(m));
    expect(fromUtf8((await p.b.decrypt(m)).plaintext)).toBe('addressed');
    // Replies are plain SignalMessages: no addresses.
    expect(SignalMessage.deserialize((await p.b.encrypt(utf8('r'))).body).addresses).toBeUndefined();
    // Names that are not ServiceIds: no addresses field.
    const q = await makePair(provider);
    await q.a.initiate(await q.bob.bundle());
    expect(
      PreKeySignalMessage.deserialize((await q.a.encrypt(utf8('x'))).body).message.addresses,
    ).toBeUndefined();
  });

  it('concurrent calls on one address are serialized (shared mutex across cipher objects)', async () => {
    const p = await establishedPair(provider);
    const other = p.alice.cipher(p.bob);
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? p.a : other).encrypt(utf8(`c${i}`))),
    );
    const counters = sent.map((m) => SignalMessage.deserialize(m.body).counter);
    expect(new Set(counters).size).toBe(20);
    const out = await Promise.all(sent.map((m) => p.b.decrypt(m)));
    expect(out.map((o) => fromUtf8(o.plaintext))).toEqual(sent.map((_, i) => `c${i}`));
  });
});
