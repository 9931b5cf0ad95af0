// A `ResendCache` or `RetryPolicy` of another copy of the package (the app `import`s it, a dependency
// `require`s it: the CommonJS build, see cjs-copy.ts) handed to this copy's `HealingCipher`. They
// hold state, not data: the cache its keys and store, the policy the counters that stop retry loops.
// Read through a serialized form (as key objects and bundles are) the policy's counters would fork
// into a second set that the other copy's users never see, halving the loop protection; used
// through its methods, this copy would run another version's code on its decisions. So it is refused
// at once, with a typed error that says why, in either direction; the policy's counters cross as
// bytes (`serialize` / `RetryPolicy.deserialize`) when the app moves them on purpose.
import { E2eeError, platformProvider } from '@e2ee-kit/core';
import * as esm from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { cjsCopy } from './cjs-copy.js';

type Ratchet = typeof esm;
let cjs: Ratchet;
beforeAll(() => {
  cjs = cjsCopy();
});

async function parts(copy: Ratchet) {
  const cache = await copy.ResendCache.create({
    key: new Uint8Array(32).fill(3),
    store: new InMemoryResendStore(),
    provider: platformProvider,
  });
  return { cache, policy: new copy.RetryPolicy() };
}

let party: Awaited<ReturnType<typeof createTestParty>>;
beforeAll(async () => {
  party = await createTestParty('alice', 1, { provider: platformProvider });
});

async function options(resendCache: unknown, policy?: unknown) {
  return optionsSync(resendCache, policy);
}

function optionsSync(resendCache: unknown, policy?: unknown) {
  return {
    store: party.store,
    localAddress: party.address,
    resendCache: resendCache as esm.ResendCache,
    ...(policy === undefined ? {} : { policy: policy as esm.RetryPolicy }),
    fetchBundle: async () => {
      throw new Error('not called');
    },
    sendRetryRequest: async () => undefined,
    resend: async () => undefined,
  };
}

function caught(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

function expectOtherCopy(err: unknown, what: string) {
  expect(E2eeError.is(err, 'UNSUPPORTED')).toBe(true);
  expect((err as Error).message).toContain(what);
  expect((err as Error).message).toContain('another copy');
}

it('the CommonJS copy is another copy', () => {
  expect(cjs.ResendCache).not.toBe(esm.ResendCache);
  expect(cjs.HealingCipher).not.toBe(esm.HealingCipher);
});

describe.each([
  ['the CommonJS copy’s, to this copy', () => cjs, () => esm],
  ['this copy’s, to the CommonJS copy', () => esm, () => cjs],
])('%s', (_name, maker, taker) => {
  it('a ResendCache of the other copy is refused at once: UnsupportedError', async () => {
    const theirs = await parts(maker());
    const ours = await parts(taker());
    const o = await options(theirs.cache, ours.policy);
    expectOtherCopy(
      caught(() => new (taker().HealingCipher)(o)),
      'resendCache',
    );
  });

  it('a RetryPolicy of the other copy is refused at once: UnsupportedError', async () => {
    const theirs = await parts(maker());
    const ours = await parts(taker());
    const o = await options(ours.cache, theirs.policy);
    expectOtherCopy(
      caught(() => new (taker().HealingCipher)(o)),
      'policy',
    );
  });

  it('the same copy’s cache and policy are taken', async () => {
    const ours = await parts(taker());
    expect(new (taker().HealingCipher)(await options(ours.cache, ours.policy))).toBeInstanceOf(
      taker().HealingCipher,
    );
  });

  it('the policy’s counters cross as bytes: a limit reached in one copy holds in the other', async () => {
    const peer = { name: 'bob', deviceId: 2 };
    const now = () => 1_700_000_000_000;
    const theirs = new (maker().RetryPolicy)({ now, maxRequestsPerMessage: 2 });
    expect(theirs.allowRequest(peer, 5).allowed).toBe(true);
    expect(theirs.allowRequest(peer, 5).allowed).toBe(true);
    const moved = taker().RetryPolicy.deserialize(theirs.serialize(), { now, maxRequestsPerMessage: 2 });
    expect(moved.allowRequest(peer, 5)).toEqual({ allowed: false, reason: 'message-limit' });
  });
});

it('anything else is still a TypeError (not mistaken for another copy)', async () => {
  const ours = await parts(esm);
  for (const bad of [{}, { get() {}, put() {}, remove() {} }, Object.create(null)]) {
    expect(caught(() => new esm.HealingCipher(optionsSync(bad, ours.policy)))).toBeInstanceOf(TypeError);
    expect(caught(() => new esm.HealingCipher(optionsSync(ours.cache, bad)))).toBeInstanceOf(TypeError);
  }
});
