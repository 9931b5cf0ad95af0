// Issue point 6: nothing lost, nothing corrupted — store failures, rollback, retry, concurrency.
import { type CryptoProvider, E2eeError, ErrorCode, StoreError } from '@e2ee-kit/core';
import type { EncryptedMessage } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { fromUtf8, prng, roundTrip, snap, utf8 } from './helpers.js';

/** Fails the `n`-th store call (0-based) once armed; records the calls it saw. */
class Faults {
  armed = false;
  countdown = -1;
  calls: string[] = [];
  readonly onCall = (method: string) => {
    if (!this.armed) return;
    this.calls.push(method);
    if (this.countdown-- === 0) throw new Error(`injected failure in ${method}`);
  };
  arm(n: number): void {
    this.armed = true;
    this.countdown = n;
    this.calls = [];
  }
  disarm(): void {
    this.armed = false;
  }
}

interface Scenario {
  /** The store whose calls fail. */
  store: InMemoryProtocolStore;
  run: () => Promise<unknown>;
  check: (result: unknown) => Promise<void> | void;
}

/**
 * For n = 0, 1, 2, …: a fresh scenario whose n-th store call fails. The operation must reject with
 * `StoreError` (cause = the store's error) leaving every record byte-identical, and a retry must then
 * succeed. Stops when an operation completes without reaching the n-th call.
 */
async function injectEveryCall(make: (faults: Faults) => Promise<Scenario>): Promise<string[]> {
  const failedAt: string[] = [];
  for (let n = 0; n < 100; n++) {
    const faults = new Faults();
    const s = await make(faults);
    const before = snap(s.store);
    faults.arm(n);
    let error: unknown;
    let result: unknown;
    try {
      result = await s.run();
    } catch (err) {
      error = err;
    }
    faults.disarm();
    if (error === undefined) {
      await s.check(result);
      return failedAt;
    }
    failedAt.push(faults.calls[n] as string);
    expect(error).toBeInstanceOf(StoreError);
    expect(E2eeError.is(error, ErrorCode.Store)).toBe(true);
    expect(String((error as StoreError).cause)).toContain('injected failure');
    expect(snap(s.store), `records changed after a failure in ${faults.calls[n]}`).toBe(before);
    await s.check(await s.run());
  }
  throw new Error('operation never completed');
}

async function parties(provider: CryptoProvider, faults: Faults, faultySide: 'alice' | 'bob') {
  const alice = await createTestParty('alice', 1, {
    provider,
    store: faultySide === 'alice' ? { onCall: faults.onCall } : {},
  });
  const bob = await createTestParty('bob', 1, {
    provider,
    store: faultySide === 'bob' ? { onCall: faults.onCall } : {},
  });
  return { alice, bob, a: alice.cipher(bob), b: bob.cipher(alice) };
}

const expectText = (text: string) => (result: unknown) => {
  expect(fromUtf8((result as { plaintext: Uint8Array }).plaintext)).toBe(text);
};

describe.each(providersWithoutAeadUse)('store failures roll back and retry ($label)', ({ provider }) => {
  it('decrypt of a first PreKey message (new session, one-time keys, first-contact identity)', async () => {
    const failed = await injectEveryCall(async (faults) => {
      const { bob, a, b } = await parties(provider, faults, 'bob');
      await a.initiate(await bob.bundle());
      const m = await a.encrypt(utf8('first'));
      return { store: bob.store, run: () => b.decrypt(m), check: expectText('first') };
    });
    expect(failed).toEqual(
      expect.arrayContaining([
        'getSession',
        'saveSession',
        'removePreKey',
        'saveIdentity',
        'markKyberPreKeyUsed',
      ]),
    );
  });

  it('decrypt of a PreKey message using a last-resort Kyber key (replay-checking store)', async () => {
    await injectEveryCall(async (faults) => {
      const { bob, a, b } = await parties(provider, faults, 'bob');
      await a.initiate(await bob.bundle({ kyberPreKey: 'last-resort' }));
      const m = await a.encrypt(utf8('lr'));
      return { store: bob.store, run: () => b.decrypt(m), check: expectText('lr') };
    });
  });

  it('decrypt of a PreKey message that replaces an existing session (identity replaced)', async () => {
    await injectEveryCall(async (faults) => {
      const { bob, a, b } = await parties(provider, faults, 'bob');
      await a.initiate(await bob.bundle());
      await roundTrip(a, b, 'old');
      // Alice reinstalls with a new identity and starts over.
      const alice2 = await createTestParty('alice', 1, { provider });
      const a2 = alice2.cipher(bob);
      await a2.initiate(await bob.bundle());
      const m = await a2.encrypt(utf8('new identity'));
      return { store: bob.store, run: () => b.decrypt(m), check: expectText('new identity') };
    });
  });

  it('decrypt of a whisper message with a DH ratchet step', async () => {
    const failed = await injectEveryCall(async (faults) => {
      const { alice, bob, a, b } = await parties(provider, faults, 'alice');
      await a.initiate(await bob.bundle());
      await roundTrip(a, b, 'hello');
      const m = await b.encrypt(utf8('reply'));
      return { store: alice.store, run: () => a.decrypt(m), check: expectText('reply') };
    });
    expect(failed).toEqual(expect.arrayContaining(['getSession', 'saveSession']));
  });

  it('decrypt that promotes an archived state', async () => {
    await injectEveryCall(async (faults) => {
      const { bob, a, b } = await parties(provider, faults, 'bob');
      await a.initiate(await bob.bundle());
      await roundTrip(a, b, 'one');
      await roundTrip(b, a, 'two');
      const late = await a.encrypt(utf8('late'));
      await a.initiate(await bob.bundle());
      await roundTrip(a, b, 'new session');
      return { store: bob.store, run: () => b.decrypt(late), check: expectText('late') };
    });
  });

  it('encrypt', async () => {
    await injectEveryCall(async (faults) => {
      const { alice, bob, a, b } = await parties(provider, faults, 'alice');
      await a.initiate(await bob.bundle());
      await roundTrip(a, b, 'x');
      await roundTrip(b, a, 'y');
      return {
        store: alice.store,
        run: () => a.encrypt(utf8('z')),
        check: async (m) => {
          expect(fromUtf8((await b.decrypt(m as EncryptedMessage)).plaintext)).toBe('z');
        },
      };
    });
  });

  it('initiate', async () => {
    await injectEveryCall(async (faults) => {
      const { alice, bob, a, b } = await parties(provider, faults, 'alice');
      const bundle = await bob.bundle();
      return {
        store: alice.store,
        run: () => a.initiate(bundle),
        check: async () => {
          await roundTrip(a, b, 'after retry');
        },
      };
    });
  });
});

describe('persist before return', () => {
  it('decrypt resolves only after the new session record is saved', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let holdSave = false;
    const bob = await createTestParty('bob', 1, {
      store: {
        onCall: async (m) => {
          if (holdSave && m === 'saveSession') await gate;
        },
      },
    });
    const alice = await createTestParty('alice', 1);
    const a = alice.cipher(bob);
    await a.initiate(await bob.bundle());
    const m = await a.encrypt(utf8('persist me'));
    holdSave = true;
    let resolved = false;
    const pending = bob
      .cipher(alice)
      .decrypt(m)
      .then((r) => {
        resolved = true;
        return r;
      });
    await new Promise((r) => setTimeout(r, 30));
    expect(resolved).toBe(false);
    expect(await bob.store.getSession(alice.address)).toBeNull();
    release();
    const r = await pending;
    expect(fromUtf8(r.plaintext)).toBe('persist me');
    expect((await bob.store.getSession(alice.address))?.sessionVersion).toBe(4);
  });
});

describe('concurrency: 1,000 encrypts and decrypts per side from 50 tasks, random store delays', () => {
  it('every message decrypts exactly once', async () => {
    const rnd = prng(2024);
    const delay = async () => {
      const r = rnd(100);
      if (r < 2) await new Promise((res) => setTimeout(res, 1));
      else for (let i = r % 4; i > 0; i--) await new Promise((res) => setImmediate(res));
    };
    const alice: TestParty = await createTestParty('alice', 1, { store: { onCall: delay } });
    const bob: TestParty = await createTestParty('bob', 1, { store: { onCall: delay } });
    const a = alice.cipher(bob);
    const b = bob.cipher(alice);
    await a.initiate(await bob.bundle());
    await roundTrip(a, b, 'setup');
    await roundTrip(b, a, 'setup reply');

    const TASKS = 50;
    const PER_TASK = 20;
    const total = TASKS * PER_TASK;
    const sides = [
      { name: 'alice', cipher: a, inbox: [] as EncryptedMessage[], received: new Map<string, number>() },
      { name: 'bob', cipher: b, inbox: [] as EncryptedMessage[], received: new Map<string, number>() },
    ] as const;
    const [sa, sb] = sides;
    const peer = (s: (typeof sides)[number]) => (s === sa ? sb : sa);
    const sender = async (s: (typeof sides)[number], task: number) => {
      for (let i = 0; i < PER_TASK; i++) {
        const m = await s.cipher.encrypt(utf8(`${s.name}/${task}/${i}`));
        peer(s).inbox.push(m);
        if (rnd(3) === 0) await new Promise((res) => setImmediate(res));
      }
    };
    let decrypted = 0;
    const receiver = async (s: (typeof sides)[number]) => {
      while (s.received.size < total) {
        const m = s.inbox.shift();
        if (!m) {
          await new Promise((res) => setImmediate(res));
          continue;
        }
        const text = fromUtf8((await s.cipher.decrypt(m)).plaintext);
        s.received.set(text, (s.received.get(text) ?? 0) + 1);
        decrypted++;
      }
    };
    const jobs: Promise<void>[] = [];
    for (const s of sides) {
      for (let t = 0; t < TASKS; t++) jobs.push(sender(s, t));
      for (let t = 0; t < TASKS; t++) jobs.push(receiver(s));
    }
    await Promise.all(jobs);
    expect(decrypted).toBe(2 * total);
    for (const s of sides) {
      expect(s.received.size).toBe(total);
      const from = peer(s).name;
      for (let t = 0; t < TASKS; t++)
        for (let i = 0; i < PER_TASK; i++) expect(s.received.get(`${from}/${t}/${i}`)).toBe(1);
    }
  });
});
