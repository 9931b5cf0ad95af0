// Fault injection on attempt limiting: for every k, the attempt store's k-th call throws, lands and
// throws, answers stale (another context wrote meanwhile), or the process crashes after it. The
// guesses are the KDF runs (Argon2 for a password, the recovery KEK's HKDF for a recovery key), and
// across every context and retry no fault may buy one beyond the limit, lower the count or lift the
// lockout; a right secret fails only with a typed StoreError, costs at most one try per fault, and
// opens on a retry.
import {
  createBackup,
  E2eeError,
  IncorrectSecretError,
  LocalBackoffPolicy,
  LockedOutError,
  openBackup,
  RecoveryKey,
  StoreError,
  type UnlockWith,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { nobleProvider } from '@e2ee-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { countingRecoveryProvider, FAULTS, type Fault, faultyStore } from './fault-store.js';
import { countingArgon2, PASSWORD } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1);
const MAX = 5; // LocalBackoffPolicy's default maxFailures, for passwords and recovery keys alike
const FIRST_LOCK_MS = 30_000;
/** The slot another context guesses at when a `stale` fault lets it write (another backup's). */
const OTHER_SLOT = 'ab'.repeat(16);

const plain = Uint8Array.of(1, 2, 3, 4);
let file: Uint8Array;
let rightKey: RecoveryKey;
const wrongKeys = Array.from({ length: 12 }, () => RecoveryKey.generate(nobleProvider.randomBytes));
beforeAll(async () => {
  const made = await createBackup([plain], {
    password: PASSWORD,
    recoveryKey: true,
    argon2: unsafeTestParams(),
  });
  file = await made.output.bytes();
  rightKey = made.recoveryKey as RecoveryKey;
});

type Scope = 'password' | 'recovery';
const right = (scope: Scope): UnlockWith =>
  scope === 'password' ? { password: PASSWORD } : { recoveryKey: rightKey };
const wrong = (scope: Scope, i: number): UnlockWith =>
  scope === 'password' ? { password: `wrong password ${i}` } : { recoveryKey: wrongKeys[i] as RecoveryKey };

/** One context's policy over a faulty store, a fresh opener for after a crash, and the guess count. */
function bench(scope: Scope, fault: Fault, at: number, cas: boolean) {
  let clock = NOW;
  const now = () => clock;
  let other = 0; // guesses the other context made (its reservation was allowed: it ran a KDF)
  const store = faultyStore(
    fault,
    at,
    async (inner) => {
      if ((await new LocalBackoffPolicy({ store: inner, now }).reserve(scope, [OTHER_SLOT])).allowed) other++;
    },
    cas,
  );
  const faulty = new LocalBackoffPolicy({ store, now });
  const fresh = new LocalBackoffPolicy({ store: store.inner, now });
  const argon2Provider = countingArgon2();
  const provider = countingRecoveryProvider();
  return {
    store,
    fresh,
    advance: (ms: number) => {
      clock += ms;
    },
    /** Through this context until it crashed, then through a fresh opener (a restarted app). */
    attempts: () => (store.crashed ? fresh : faulty),
    guesses: () => argon2Provider.calls + provider.guesses + other,
    other: () => other,
    state: () => fresh.check(scope),
    /** Opens and reads the plaintext; resolves with the error instead of throwing. */
    open: (how: UnlockWith, attempts = store.crashed ? fresh : faulty) =>
      openBackup(file, how, { attempts, argon2Provider, provider }).then(
        async (r) => {
          expect(await r.plaintext.bytes()).toEqual(plain);
          return undefined;
        },
        (err: unknown) => err as Error,
      ),
  };
}

/** The store calls a run without faults makes (a fault at a later call never fires). */
async function callsWithoutFaults(
  scope: Scope,
  cas: boolean,
  run: (b: ReturnType<typeof bench>) => Promise<void>,
) {
  const b = bench(scope, 'throw', 0, cas);
  await run(b);
  return b.store.calls;
}

const cases = (cas: boolean) =>
  // A get/set-only store is exact within one realm only (README): another context's write
  // between its get and set is lost, by design, so `stale` is run against compare-and-set stores.
  FAULTS.filter((f) => cas || f !== 'stale');

const GUESSES = 12;
async function guessWrong(b: ReturnType<typeof bench>, scope: Scope) {
  for (let i = 0; i < GUESSES; i++) {
    const before = (await b.state()).failures;
    const err = await b.open(wrong(scope, i));
    const ok =
      err instanceof IncorrectSecretError || err instanceof LockedOutError || err instanceof StoreError;
    expect(ok, String(err)).toBe(true);
    expect((await b.state()).failures).toBeGreaterThanOrEqual(before);
  }
}

async function openRight(b: ReturnType<typeof bench>, scope: Scope) {
  const errors: Error[] = [];
  for (let i = 0; i < 3; i++) {
    const err = await b.open(right(scope));
    if (err === undefined) return errors;
    errors.push(err);
  }
  throw new Error(`the right secret did not open in 3 tries: ${errors.map(String).join('; ')}`);
}

describe.each([true, false])('attempt store faults (compareAndSet: %s)', (cas) => {
  describe.each(['password', 'recovery'] as const)('%s', (scope) => {
    it('wrong guesses: no fault at any call buys a guess beyond the limit, lowers the count or lifts the lock', async () => {
      const n = await callsWithoutFaults(scope, cas, (b) => guessWrong(b, scope));
      for (const fault of cases(cas)) {
        for (let at = 1; at <= n; at++) {
          const b = bench(scope, fault, at, cas);
          await guessWrong(b, scope);
          const where = `${fault} at call ${at}`;
          // Each guess is charged before its KDF: at most MAX ran, and a lost answer (`land` on the
          // charge) costs at most the one guess it stood for.
          expect(b.guesses(), where).toBeLessThanOrEqual(MAX);
          expect(b.guesses(), where).toBeGreaterThanOrEqual(MAX - 1);
          const state = await b.state();
          expect(state.failures, where).toBe(MAX);
          expect(state.lockedUntil?.getTime(), where).toBe(NOW + FIRST_LOCK_MS);
          // The lock holds for the right secret too, through any opener, and no KDF runs for it.
          const guesses = b.guesses();
          expect(await b.open(right(scope), b.fresh), where).toBeInstanceOf(LockedOutError);
          expect(b.guesses(), where).toBe(guesses);
        }
      }
    });

    it('the right secret: a fault is a StoreError, never a wrong secret or a lockout, and a retry opens', async () => {
      const n = await callsWithoutFaults(scope, cas, async (b) => {
        await openRight(b, scope);
      });
      for (const prior of [0, MAX - 2]) {
        for (const fault of cases(cas)) {
          for (let at = 1; at <= n + 1; at++) {
            const b = bench(scope, fault, at, cas);
            for (let i = 0; i < prior; i++)
              expect(await b.open(wrong(scope, i), b.fresh)).toBeInstanceOf(IncorrectSecretError);
            const where = `${fault} at call ${at}, ${prior} failures before`;
            const errors = await openRight(b, scope);
            expect(errors.length, where).toBeLessThanOrEqual(1);
            for (const err of errors) {
              expect(err, where).toBeInstanceOf(StoreError);
              expect(E2eeError.is(err, 'STORE'), where).toBe(true);
            }
            // The success cleared this slot's failures, a conservatively kept charge included;
            // what is left is the other context's guess, if a `stale` fault let it make one.
            expect(await b.state(), where).toEqual({
              failures: b.other(),
              remainingAttempts: MAX - b.other(),
              lockedUntil: undefined,
            });
          }
        }
      }
    });

    it('with one try left, a store fault during the right secret may lock it out for the first step only (README)', async () => {
      // The policy cannot tell whether a write that threw landed: it keeps the charge (giving it
      // back when it had not landed would hand a guesser a free try).
      const n = await callsWithoutFaults(scope, cas, async (b) => {
        await openRight(b, scope);
      });
      let lockedOut = 0;
      for (const fault of cases(cas)) {
        for (let at = 1; at <= n + 1; at++) {
          const b = bench(scope, fault, at, cas);
          for (let i = 0; i < MAX - 1; i++)
            expect(await b.open(wrong(scope, i), b.fresh)).toBeInstanceOf(IncorrectSecretError);
          const where = `${fault} at call ${at}`;
          const first = await b.open(right(scope));
          if (first === undefined) continue;
          // Locked at once only when the other context's guess (a `stale` fault's write) was the fifth.
          if (b.other() === 0) expect(first, where).toBeInstanceOf(StoreError);
          const second = first instanceof LockedOutError ? first : await b.open(right(scope));
          if (second !== undefined) {
            expect(second, where).toBeInstanceOf(LockedOutError);
            expect((second as LockedOutError).until.getTime(), where).toBe(NOW + FIRST_LOCK_MS);
            lockedOut++;
            b.advance(FIRST_LOCK_MS);
            expect(await b.open(right(scope)), where).toBeUndefined();
          }
          expect(await b.state(), where).toMatchObject({ failures: b.other(), lockedUntil: undefined });
        }
      }
      // It happens: the charge landed and its answer was lost, or the give-back never landed.
      expect(lockedOut).toBeGreaterThan(0);
    });
  });
});
