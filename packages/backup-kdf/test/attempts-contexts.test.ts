// Attempt limiting when several tabs, workers or processes share one persistent attempt store, and
// when a guess is interrupted: each guess is charged before its KDF runs, in one compare-and-set
// with the lockout check, so contexts cannot all pass the check at once, none of their failures is
// lost, and a guess whose answer was never recorded still counts.
import {
  type AttemptStore,
  IncorrectSecretError,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { StoreError } from '@e2ee-kit/core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { countingArgon2, makeSet, PASSWORD } from './helpers.js';

let victim: Awaited<ReturnType<typeof makeSet>>;
beforeAll(async () => {
  victim = await makeSet();
});

const NOW = Date.UTC(2026, 0, 1);
const now = () => NOW;
const slot = (n: number) => n.toString(16).padStart(32, '0');

/** A fresh copy of the package, as another tab or worker has: its own module state and locks. */
async function anotherContext(): Promise<typeof import('@e2ee-kit/backup-kdf')> {
  vi.resetModules();
  return import('@e2ee-kit/backup-kdf');
}

describe('contexts sharing one attempt store', () => {
  it('racing wrong guesses at the last allowed try: one runs its KDF, the others are locked out', async () => {
    const store = new MemoryAttemptStore();
    const first = new LocalBackoffPolicy({ store, now });
    for (let i = 0; i < 4; i++) {
      const err = await unlockBackup(victim.fileA, { password: `wrong ${i}` }, { attempts: first }).catch(
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(IncorrectSecretError);
    }
    const contexts = [];
    for (let i = 0; i < 3; i++) contexts.push(await anotherContext());
    expect(new Set(contexts.map((k) => k.LocalBackoffPolicy)).size).toBe(3);
    const argon2Provider = countingArgon2();
    const outcomes = await Promise.all(
      contexts.map((kdf, i) =>
        kdf
          .unlockBackup(
            victim.fileA,
            { password: `racing guess ${i}` },
            { attempts: new kdf.LocalBackoffPolicy({ store, now }), argon2Provider },
          )
          .then(
            () => 'opened',
            (e: Error) => e.name,
          ),
      ),
    );
    // Checked first and charged after the KDF, all three guessed (3 KDF runs, 3 wrong passwords).
    expect(outcomes.sort()).toEqual(['IncorrectSecretError', 'LockedOutError', 'LockedOutError']);
    expect(argon2Provider.calls).toBe(1);
    expect((await first.check('password')).failures).toBe(5);
  });

  it('failures recorded at once from ten contexts are all counted (none lost to a concurrent write)', async () => {
    const store = new MemoryAttemptStore();
    const policies = Array.from(
      { length: 10 },
      () => new LocalBackoffPolicy({ store, now, maxFailures: 100 }),
    );
    await Promise.all(policies.map((p, i) => p.recordFailure('password', [slot(i % 3)])));
    expect((await policies[0]!.check('password')).failures).toBe(10);
    const reservations = await Promise.all(policies.map((p) => p.reserve('password', [slot(7)])));
    expect(reservations.every((r) => r.allowed)).toBe(true);
    expect((await policies[0]!.check('password')).failures).toBe(20);
  });

  it('ten contexts reserving at once with five tries left: exactly five may guess', async () => {
    const store = new MemoryAttemptStore();
    const policies = Array.from({ length: 10 }, () => new LocalBackoffPolicy({ store, now }));
    const reservations = await Promise.all(policies.map((p) => p.reserve('password', [slot(1)])));
    expect(reservations.filter((r) => r.allowed)).toHaveLength(5);
    const refused = reservations.filter((r) => !r.allowed);
    expect(refused.every((r) => r.state.lockedUntil?.getTime() === NOW + 30_000)).toBe(true);
  });

  it('a store whose compare-and-set never lands fails with StoreError, before any KDF', async () => {
    const inner = new MemoryAttemptStore();
    const store: AttemptStore = {
      get: (k) => inner.get(k),
      set: (k, v) => inner.set(k, v),
      compareAndSet: async () => false,
    };
    const argon2Provider = countingArgon2();
    const attempts = new LocalBackoffPolicy({ store, now });
    const err = await unlockBackup(victim.fileA, { password: PASSWORD }, { attempts, argon2Provider }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect(argon2Provider.calls).toBe(0);
    const odd = new LocalBackoffPolicy({
      store: { ...store, compareAndSet: async () => 'yes' as unknown as boolean },
      now,
    });
    await expect(odd.recordFailure('password', [slot(1)])).rejects.toBeInstanceOf(StoreError);
  });
});

describe('a guess that never finishes', () => {
  it('is counted while it runs, so a context killed during the KDF leaves it counted', async () => {
    // In a context of its own: the guess holds that context's unlock queue for good.
    const tab = await anotherContext();
    const store = new MemoryAttemptStore();
    const attempts = new tab.LocalBackoffPolicy({ store, now });
    let started!: () => void;
    const kdfStarted = new Promise<void>((resolve) => {
      started = resolve;
    });
    const hanging = {
      ...countingArgon2(),
      argon2id: () => {
        started();
        return new Promise<Uint8Array>(() => {}); // the tab is closed here: no answer, ever
      },
    };
    void tab.unlockBackup(victim.fileA, { password: 'a guess' }, { attempts, argon2Provider: hanging });
    await kdfStarted;
    // What a reload (a fresh policy over the same persistent store) sees.
    expect((await new LocalBackoffPolicy({ store, now }).check('password')).failures).toBe(1);
  });

  it('a KDF that fails before any slot was tried gives the charge back (nothing was learnt)', async () => {
    const attempts = new LocalBackoffPolicy({ store: new MemoryAttemptStore(), now });
    const failing = {
      ...countingArgon2(),
      argon2id: async () => Promise.reject(new Error('no WebAssembly here')),
    };
    for (let i = 0; i < 7; i++) {
      const err = await unlockBackup(
        victim.fileA,
        { password: `guess ${i}` },
        { attempts, argon2Provider: failing },
      ).catch((e: unknown) => e);
      expect((err as Error).message).toBe('no WebAssembly here');
    }
    expect(await attempts.check('password')).toMatchObject({ failures: 0, lockedUntil: undefined });
    const keyring = await unlockBackup(victim.fileA, { password: PASSWORD }, { attempts });
    keyring.destroy();
  });

  it('settle takes only a reservation this policy made, once, with a slot it reserved', async () => {
    const attempts = new LocalBackoffPolicy({ store: new MemoryAttemptStore(), now });
    const r = await attempts.reserve('password', [slot(1), slot(2)]);
    await expect(attempts.settle('password', r, slot(3))).rejects.toBeInstanceOf(TypeError);
    await attempts.settle('password', r, slot(2));
    // slot 2 opened (cleared), slot 1's charge for this guess given back.
    expect((await attempts.check('password')).failures).toBe(0);
    await expect(attempts.settle('password', r, undefined)).rejects.toBeInstanceOf(TypeError);
    await expect(
      attempts.settle('password', { allowed: true, state: r.state }, undefined),
    ).rejects.toBeInstanceOf(TypeError);
  });
});
