import {
  type AttemptStore,
  BackupErrorCode,
  BackupKeyring,
  IncorrectSecretError,
  InvalidRecoveryKeyError,
  importHexRecoveryKey,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  openBackup,
  PasswordRejectedError,
} from '@e2ee-kit/backup-kdf';
import { DecodeError, LockedOutError, StoreError } from '@e2ee-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countingArgon2, makeSet, PASSWORD } from './helpers.js';

let set: Awaited<ReturnType<typeof makeSet>>;
beforeAll(async () => {
  set = await makeSet();
});

function setup() {
  let now = Date.UTC(2026, 0, 1);
  const store = new MemoryAttemptStore();
  const attempts = new LocalBackoffPolicy({ store, now: () => now });
  const argon2Provider = countingArgon2();
  return {
    store,
    attempts,
    argon2Provider,
    advance: (ms: number) => {
      now += ms;
    },
    now: () => now,
    open: (how: Parameters<typeof openBackup>[1], file = set.fileA) =>
      openBackup(file, how, { attempts, argon2Provider }).then(
        (r) => ({ ok: true as const, r, err: undefined }),
        (err: unknown) => ({ ok: false as const, r: undefined, err }),
      ),
  };
}

describe('LocalBackoffPolicy (device-side attempt limiting)', () => {
  it('locks after 5 consecutive wrong passwords; LockedOutError says until when; no KDF runs while locked', async () => {
    const s = setup();
    for (let i = 1; i <= 5; i++) {
      const { err } = await s.open({ password: `wrong password ${i}` });
      expect(err).toBeInstanceOf(IncorrectSecretError);
      expect((err as IncorrectSecretError).remainingAttempts).toBe(5 - i);
    }
    const fifth = s.now() + 30_000;
    const calls = s.argon2Provider.calls;
    const { err } = await s.open({ password: PASSWORD }); // even the right password waits
    expect(err).toBeInstanceOf(LockedOutError);
    expect((err as LockedOutError).until.getTime()).toBe(fifth);
    expect((err as LockedOutError).code).toBe('LOCKED_OUT');
    expect(s.argon2Provider.calls).toBe(calls);
  });

  it('waits escalate (30 s, 5 min, 1 h, 24 h, 24 h…) and a success resets the count', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) await s.open({ password: 'wrong password' });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const locked = (await s.open({ password: 'wrong password' })).err as LockedOutError;
      expect(locked).toBeInstanceOf(LockedOutError);
      const wait = locked.until.getTime() - s.now();
      s.advance(wait);
      const failed = (await s.open({ password: 'wrong password' })).err as IncorrectSecretError;
      expect(failed).toBeInstanceOf(IncorrectSecretError);
      waits.push(failed.lockedUntil!.getTime() - s.now());
    }
    expect(waits).toEqual([300_000, 3_600_000, 86_400_000, 86_400_000, 86_400_000]);
    s.advance(86_400_000);
    expect((await s.open({ password: PASSWORD })).ok).toBe(true);
    const state = await s.attempts.check('password');
    expect(state).toEqual({ failures: 0, remainingAttempts: 5, lockedUntil: undefined });
  });

  it('a very long lockout step (an app wanting "permanent") stays a lockout; an infinite one is refused', async () => {
    // A Date holds at most 8.64e15 ms after the epoch (ECMA-262, Time Values and Time Range): a lock
    // beyond it must still read back as locked, not as a malformed record or a bare RangeError.
    const store = new MemoryAttemptStore();
    const attempts = new LocalBackoffPolicy({ store, maxFailures: 1, lockoutStepsMs: [1e300] });
    const open = (password: string) =>
      openBackup(set.fileA, { password }, { attempts }).catch((e: unknown) => e);
    const failed = (await open('wrong password')) as IncorrectSecretError;
    expect(failed).toBeInstanceOf(IncorrectSecretError);
    expect(Number.isNaN(failed.lockedUntil!.getTime())).toBe(false);
    for (const password of ['wrong password', PASSWORD]) {
      const locked = (await open(password)) as LockedOutError;
      expect(locked).toBeInstanceOf(LockedOutError);
      expect(locked.until.getTime()).toBe(8.64e15);
    }
    for (const steps of [[Number.POSITIVE_INFINITY], [30_000, Number.NaN], [-1]]) {
      expect(() => new LocalBackoffPolicy({ store, lockoutStepsMs: steps })).toThrow(RangeError);
    }
  });

  it('the lockout steps are read once: changing the array passed in later (to 0 ms, to NaN) changes nothing', async () => {
    let now = Date.UTC(2026, 0, 1);
    const steps = [60_000];
    const attempts = new LocalBackoffPolicy({
      store: new MemoryAttemptStore(),
      maxFailures: 1,
      lockoutStepsMs: steps,
      now: () => now,
    });
    steps[0] = 0; // an app reusing its array, or a hostile script with a reference to it
    const open = (password: string) =>
      openBackup(set.fileA, { password }, { attempts }).catch((e: unknown) => e);
    const failed = (await open('wrong password')) as IncorrectSecretError;
    expect(failed).toBeInstanceOf(IncorrectSecretError);
    expect(failed.lockedUntil?.getTime()).toBe(now + 60_000);
    steps[0] = Number.NaN;
    now += 1_000;
    const locked = (await open(PASSWORD)) as LockedOutError;
    expect(locked).toBeInstanceOf(LockedOutError);
    expect(locked.until.getTime()).toBe(now - 1_000 + 60_000);
  });

  it('typos of the recovery key and empty/short passwords are not attempts', async () => {
    const s = setup();
    const d = set.recoveryKey.toDisplayString().replace(/ /g, '');
    const typo = d.slice(0, 5) + ((Number(d[5]) + 3) % 10) + d.slice(6);
    for (let i = 0; i < 20; i++) {
      expect((await s.open({ recoveryKey: typo })).err).toBeInstanceOf(InvalidRecoveryKeyError);
      expect((await s.open({ password: 'abc' })).err).toBeInstanceOf(PasswordRejectedError);
      expect((await s.open({ password: '' })).err).toBeInstanceOf(PasswordRejectedError);
    }
    expect(s.argon2Provider.calls).toBe(0);
    expect((await s.open({ recoveryKey: set.recoveryKey })).ok).toBe(true);
    expect((await s.open({ password: PASSWORD })).ok).toBe(true);
  });

  it('password and recovery key are counted separately: a locked password can still be recovered', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) await s.open({ password: 'wrong password' });
    expect((await s.open({ password: PASSWORD })).err).toBeInstanceOf(LockedOutError);
    expect((await s.open({ recoveryKey: set.recoveryKey })).ok).toBe(true);
  });

  it('one budget per store and kind of secret: a lockout holds for every backup opened through the policy', async () => {
    const s = setup();
    const other = await makeSet();
    for (let i = 0; i < 5; i++) await s.open({ password: 'wrong password' });
    expect((await s.open({ password: PASSWORD }, other.fileA)).err).toBeInstanceOf(LockedOutError);
  });

  it('state lives in the injected store as versioned bytes and survives a new policy instance', async () => {
    const s = setup();
    for (let i = 0; i < 5; i++) await s.open({ password: 'wrong password' });
    const again = new LocalBackoffPolicy({ store: s.store, now: s.now });
    const err = await openBackup(set.fileA, { password: PASSWORD }, { attempts: again }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(LockedOutError);
    const raw = await s.store.get('password');
    expect(raw?.length).toBe(15 + 20); // v2: one slot charged
    expect([raw?.[0], raw?.[1]]).toEqual([0xa7, 2]);
  });

  it('a malformed stored record fails closed; a failing store is a StoreError', async () => {
    const store: AttemptStore = { get: async () => Uint8Array.of(1, 2, 3), set: async () => {} };
    const err = await openBackup(
      set.fileA,
      { password: PASSWORD },
      { attempts: new LocalBackoffPolicy({ store }) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DecodeError);
    const broken: AttemptStore = {
      get: async () => {
        throw new Error('disk full');
      },
      set: async () => {},
    };
    const err2 = await openBackup(
      set.fileA,
      { password: PASSWORD },
      { attempts: new LocalBackoffPolicy({ store: broken }) },
    ).catch((e: unknown) => e);
    expect(err2).toBeInstanceOf(StoreError);
  });

  it('concurrent attempts are serialized: 8 parallel wrong guesses still lock after 5', async () => {
    const s = setup();
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => s.open({ password: `parallel guess ${i}` })),
    );
    const locked = results.filter((r) => r.err instanceof LockedOutError).length;
    const wrong = results.filter((r) => r.err instanceof IncorrectSecretError).length;
    expect({ wrong, locked }).toEqual({ wrong: 5, locked: 3 });
  });

  it('header tampering after a correct password is not counted as a failure', async () => {
    const s = setup();
    const bad = set.fileA.slice();
    bad[40]! ^= 1;
    for (let i = 0; i < 7; i++) {
      expect((await s.open({ password: PASSWORD }, bad)).err).toMatchObject({
        code: BackupErrorCode.HeaderTampered,
      });
    }
    expect((await s.open({ password: PASSWORD })).ok).toBe(true);
  });
});

describe('imported 64-hex keys (no checksum)', () => {
  it('get a more lenient threshold (10 by default): their typos can only fail the unlock', async () => {
    const hex = 'b1ef5568c3f4a9e7d1c2b3a4958677f8091a2b3c4d5e6f708192a3b4c5d67c11';
    const { keyring } = await BackupKeyring.create({ recoveryKey: importHexRecoveryKey(hex) });
    const file = await keyring.encrypt([Uint8Array.of(1, 2)]).bytes();
    const s = setup();
    const typo = importHexRecoveryKey(`${hex.slice(0, 63)}0`);
    for (let i = 1; i <= 10; i++) {
      const { err } = await s.open({ recoveryKey: typo }, file);
      expect(err).toBeInstanceOf(IncorrectSecretError);
      expect((err as IncorrectSecretError).remainingAttempts).toBe(10 - i);
    }
    expect((await s.open({ recoveryKey: importHexRecoveryKey(hex) }, file)).err).toBeInstanceOf(
      LockedOutError,
    );
  });
});
