// Shared test helpers (test-only).
import { type CryptoProvider, fromUtf8, toHex, utf8 } from '@e2ee-kit/core';
import type { EncryptedMessage, ProtocolTransaction, SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import { expect } from 'vitest';

export { fromUtf8, utf8 };

/** Every stored record of the stores, as one comparable string. */
export function snap(...stores: InMemoryProtocolStore[]): string {
  return stores
    .map((s) =>
      [...s.snapshot()]
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, v]) => `${k}=${toHex(v)}`)
        .join('\n'),
    )
    .join('\n----\n');
}

/** Runs `fn`, expects it to reject, and expects every record of `stores` to be byte-identical after. */
export async function rejectsWithoutChange(
  stores: InMemoryProtocolStore[],
  fn: () => Promise<unknown>,
): Promise<unknown> {
  const before = snap(...stores);
  let error: unknown;
  try {
    await fn();
  } catch (err) {
    error = err;
  }
  expect(error, 'operation should have failed').toBeDefined();
  expect(snap(...stores)).toBe(before);
  return error;
}

export interface Pair {
  alice: TestParty;
  bob: TestParty;
  /** Alice's cipher for Bob. */
  a: SessionCipher;
  /** Bob's cipher for Alice. */
  b: SessionCipher;
}

let counter = 0;

/** Two parties; `uuid` names make libsignal's `addresses` field apply. */
export async function makePair(
  provider: CryptoProvider,
  options: { uuid?: boolean; x3dh?: boolean } = {},
): Promise<Pair> {
  const n = ++counter;
  const alice = await createTestParty(options.uuid ? crypto.randomUUID() : `alice-${n}`, 1, { provider });
  const bob = await createTestParty(options.uuid ? crypto.randomUUID() : `bob-${n}`, 2, { provider });
  const cipherOptions = options.x3dh ? { acceptX3dh: true } : {};
  return { alice, bob, a: alice.cipher(bob, cipherOptions), b: bob.cipher(alice, cipherOptions) };
}

/** Pair with an established session: Alice initiated, Bob received the first message and replied. */
export async function establishedPair(
  provider: CryptoProvider,
  options: { uuid?: boolean; x3dh?: boolean } = {},
): Promise<Pair> {
  const p = await makePair(provider, options);
  const bundle = await p.bob.bundle(options.x3dh ? { kyberPreKey: false } : {});
  await p.a.initiate(bundle, options.x3dh ? { protocol: 'x3dh' } : {});
  expect(fromUtf8((await p.b.decrypt(await p.a.encrypt(utf8('hello')))).plaintext)).toBe('hello');
  expect(fromUtf8((await p.a.decrypt(await p.b.encrypt(utf8('hi')))).plaintext)).toBe('hi');
  return p;
}

export async function roundTrip(
  from: SessionCipher,
  to: SessionCipher,
  text: string,
): Promise<EncryptedMessage> {
  const m = await from.encrypt(utf8(text));
  expect(fromUtf8((await to.decrypt(m)).plaintext)).toBe(text);
  return m;
}

/** A small deterministic PRNG for schedules (xorshift32). */
export function prng(seed: number): (n: number) => number {
  let x = seed | 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** Gives `store` a `transaction` whose first attempt runs, is rolled back, and is run again. */
export function retryingOnce(store: InMemoryProtocolStore): { attempts: number } {
  const seen = { attempts: 0 };
  Object.assign(store, {
    async transaction<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> {
      const before = store.snapshot();
      seen.attempts++;
      await fn({ protocol: store });
      store.restore(before); // conflict: the first attempt's writes are thrown away
      seen.attempts++;
      return fn({ protocol: store });
    },
  });
  return seen;
}
