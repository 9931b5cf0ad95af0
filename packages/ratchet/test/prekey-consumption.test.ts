// Issue 11.4: one-time pre-keys are consumed by exactly one successful decrypt, whatever runs at the
// same time for other addresses; and 11 (point 6): missing pre-key errors name the id and the sender.
import { createAddress, E2eeError, platformProvider } from '@e2ee-kit/core';
import {
  type CreatePreKeyBundleOptions,
  type DecryptedMessage,
  PreKeyNotFoundError,
  RatchetErrorCode,
  SessionCipher,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './helpers.js';

const provider = platformProvider;
const COPIES = 100;

type BundleKind = Omit<CreatePreKeyBundleOptions, 'deviceId' | 'provider'>;

/** Bob's records other than sessions, as comparable strings. */
function nonSession(store: InMemoryProtocolStore): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of store.snapshot())
    if (!k.startsWith('session:')) out.set(k, Buffer.from(v).toString('hex'));
  return out;
}

async function race(kind: BundleKind) {
  const alice = await createTestParty('alice', 1, { provider });
  const bob = await createTestParty('bob', 1, { provider });
  const a = alice.cipher(bob);
  await a.initiate(await bob.bundle(kind));
  const m = await a.encrypt(utf8('genuine'));
  const before = bob.store.snapshot();

  // The expected store: the genuine decrypt alone, on a copy of Bob's store.
  const solo = await InMemoryProtocolStore.create({
    provider,
    identityKeyPair: await bob.store.getIdentityKeyPair(),
    registrationId: await bob.store.getLocalRegistrationId(),
  });
  solo.restore(before);
  await new SessionCipher(solo, alice.address, { provider, localAddress: bob.address }).decrypt(m);

  // The genuine sender first in call order, then 99 copies "from" other addresses, all at once.
  const senders = [
    alice.address,
    ...Array.from({ length: COPIES - 1 }, (_, i) => createAddress(`mallory-${i}`, 1)),
  ];
  const results = await Promise.allSettled(senders.map((s) => bob.cipher(s).decrypt(m)));
  return { results, senders, bob, solo, before };
}

describe('one-time pre-keys are consumed once across addresses (100 concurrent copies)', () => {
  for (const [label, kind, code] of [
    ['one-time EC + one-time Kyber', {}, RatchetErrorCode.InvalidKyberPreKeyId],
    ['one-time EC + last-resort Kyber', { kyberPreKey: 'last-resort' }, RatchetErrorCode.InvalidPreKeyId],
    ['no EC one-time key, one-time Kyber', { preKey: false }, RatchetErrorCode.InvalidKyberPreKeyId],
  ] as const) {
    it(label, async () => {
      const { results, senders, bob, solo } = await race(kind);
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok).toHaveLength(1);
      // The genuine (first) decrypt is the one that succeeds.
      expect(results[0]?.status).toBe('fulfilled');
      expect(fromUtf8((results[0] as PromiseFulfilledResult<DecryptedMessage>).value.plaintext)).toBe(
        'genuine',
      );
      for (const r of results.slice(1)) {
        expect(r.status).toBe('rejected');
        expect(E2eeError.is((r as PromiseRejectedResult).reason, code)).toBe(true);
      }
      // Only the winner's session exists; every other record is what the genuine decrypt alone leaves.
      for (const s of senders.slice(1)) expect(await bob.store.getSession(s)).toBeNull();
      expect(await bob.store.getSession(senders[0] as (typeof senders)[0])).not.toBeNull();
      expect(nonSession(bob.store)).toEqual(nonSession(solo));
    });
  }

  it('last-resort Kyber key without a one-time EC key: the replay check refuses every copy', async () => {
    const { results, senders, bob, solo } = await race({ kyberPreKey: 'last-resort', preKey: false });
    expect(results.map((r) => r.status)).toEqual(['fulfilled', ...Array(COPIES - 1).fill('rejected')]);
    for (const s of senders.slice(1)) expect(await bob.store.getSession(s)).toBeNull();
    expect(nonSession(bob.store)).toEqual(nonSession(solo));
  });
});

describe('missing pre-key errors name the key id and the sender', () => {
  it('one-time, signed and Kyber pre-keys', async () => {
    for (const [kind, remove] of [
      [
        'one-time',
        (s: InMemoryProtocolStore, b: { preKey: number; signed: number; kyber: number }) =>
          s.removePreKey(b.preKey),
      ],
      [
        'signed',
        (s: InMemoryProtocolStore, b: { preKey: number; signed: number; kyber: number }) =>
          s.removeSignedPreKey(b.signed),
      ],
      [
        'kyber',
        (s: InMemoryProtocolStore, b: { preKey: number; signed: number; kyber: number }) =>
          s.removeKyberPreKey(b.kyber),
      ],
    ] as const) {
      const alice = await createTestParty('alice', 3, { provider });
      const bob = await createTestParty('bob', 1, { provider });
      const a = alice.cipher(bob);
      const bundle = await bob.bundle();
      const ids = {
        preKey: bundle.preKey?.id as number,
        signed: bundle.signedPreKey.id,
        kyber: bundle.kyberPreKey?.id as number,
      };
      await a.initiate(bundle);
      const m = await a.encrypt(utf8('x'));
      await remove(bob.store, ids);
      const err = await bob
        .cipher(alice)
        .decrypt(m)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PreKeyNotFoundError);
      const e = err as PreKeyNotFoundError;
      const id = kind === 'one-time' ? ids.preKey : kind === 'signed' ? ids.signed : ids.kyber;
      expect(e.kind).toBe(kind);
      expect(e.preKeyId).toBe(id);
      expect(e.address).toEqual({ name: 'alice', deviceId: 3 });
      expect(e.code).toBe(
        kind === 'one-time'
          ? RatchetErrorCode.InvalidPreKeyId
          : kind === 'signed'
            ? RatchetErrorCode.InvalidSignedPreKeyId
            : RatchetErrorCode.InvalidKyberPreKeyId,
      );
      expect(e.message).toContain(String(id));
      expect(e.message).toContain('alice.3');
    }
  });
});
