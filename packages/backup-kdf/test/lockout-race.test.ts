// Racing guesses cannot buy more tries than the policy allows: 10 wrong passwords at once
// (Promise.all) on the same file — each through its own LocalBackoffPolicy over one store that has
// only get/set and answers slowly (the worst case in one realm), some on edited copies of the
// file — run exactly 5 KDFs; the other 5 are locked out without one.
import {
  type AttemptStore,
  IncorrectSecretError,
  LocalBackoffPolicy,
  LockedOutError,
  openBackup,
} from '@e2ee-kit/backup-kdf';
import { beforeAll, describe, expect, it } from 'vitest';
import { countingArgon2, layout, makeSet, PASSWORD } from './helpers.js';

let set: Awaited<ReturnType<typeof makeSet>>;
beforeAll(async () => {
  set = await makeSet();
});

const NOW = Date.UTC(2026, 0, 1);

/** get/set only (no compareAndSet), each answer a timer tick late, counting writes. */
function slowStore() {
  const map = new Map<string, Uint8Array>();
  const tick = () => new Promise((resolve) => setTimeout(resolve, 1));
  const store: AttemptStore & { writes: number } = {
    writes: 0,
    async get(key) {
      await tick();
      return map.get(key)?.slice();
    },
    async set(key, value) {
      await tick();
      store.writes++;
      map.set(key, value.slice());
    },
  };
  return store;
}

async function race(files: Uint8Array[]) {
  const store = slowStore();
  const argon2Provider = countingArgon2();
  const outcomes = await Promise.all(
    files.map((file, i) =>
      openBackup(
        file,
        { password: `wrong password ${i}` },
        { attempts: new LocalBackoffPolicy({ store, now: () => NOW }), argon2Provider },
      ).then(
        () => 'opened',
        (e: unknown) => e,
      ),
    ),
  );
  return { store, argon2Provider, outcomes };
}

describe('ten wrong passwords at once', () => {
  it('on the same file: 5 KDF runs, 5 wrong, 5 locked out, and the right password is locked out after', async () => {
    const { store, argon2Provider, outcomes } = await race(Array.from({ length: 10 }, () => set.fileA));
    expect(argon2Provider.calls).toBe(5);
    expect(outcomes.filter((e) => e instanceof IncorrectSecretError)).toHaveLength(5);
    expect(outcomes.filter((e) => e instanceof LockedOutError)).toHaveLength(5);
    // Each wrong guess saw the charges of those before it.
    const remaining = outcomes
      .filter((e): e is IncorrectSecretError => e instanceof IncorrectSecretError)
      .map((e) => e.remainingAttempts)
      .sort();
    expect(remaining).toEqual([0, 1, 2, 3, 4]);
    const policy = new LocalBackoffPolicy({ store, now: () => NOW });
    expect(await policy.check('password')).toMatchObject({ failures: 5, remainingAttempts: 0 });
    await expect(
      openBackup(set.fileA, { password: PASSWORD }, { attempts: policy, argon2Provider }),
    ).rejects.toBeInstanceOf(LockedOutError);
    expect(argon2Provider.calls).toBe(5);
  });

  it('half of them on copies with an edited password slot: still 5 KDF runs in all', async () => {
    const { slotStart } = layout(set.fileA, 4096);
    const edited = (i: number) => {
      const f = set.fileA.slice();
      f[slotStart + 1 + 3 + 10 + i]! ^= 0x40; // a byte of the password slot's salt
      return f;
    };
    const files = Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? set.fileA : edited(i)));
    const { argon2Provider, outcomes } = await race(files);
    expect(argon2Provider.calls).toBe(5);
    expect(outcomes.filter((e) => e instanceof IncorrectSecretError)).toHaveLength(5);
    expect(outcomes.filter((e) => e instanceof LockedOutError)).toHaveLength(5);
  });
});
