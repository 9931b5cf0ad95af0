// Fault injection on a password change: for every k, the attempt store's k-th call (during the
// unlock with the current secret) throws, lands and throws, answers stale, or the process crashes
// after it. Whatever happens, the file keeps opening with the old password or the change's output
// opens with the new one — never neither — and once the change lands the attempt state is as a
// plain success leaves it. (keyring.changePassword and rewriteSlots never touch the store: only
// the unlock before them does.)
import {
  changeBackupPassword,
  createBackup,
  IncorrectSecretError,
  LocalBackoffPolicy,
  noAttemptLimit,
  openBackup,
  type RecoveryKey,
  StoreError,
  type UnlockWith,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAULTS, faultyStore } from './fault-store.js';
import { countingArgon2, PASSWORD } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1);
const now = () => NOW;
const NEW_PASSWORD = 'the new password, after the fault';
const OTHER_SLOT = 'cd'.repeat(16);
const argon2 = unsafeTestParams();

const plain = Uint8Array.of(9, 8, 7);
let file: Uint8Array;
let recoveryKey: RecoveryKey;
beforeAll(async () => {
  const made = await createBackup([plain], { password: PASSWORD, recoveryKey: true, argon2 });
  file = await made.output.bytes();
  recoveryKey = made.recoveryKey as RecoveryKey;
});

async function opensWith(bytes: Uint8Array, password: string): Promise<boolean> {
  try {
    const { plaintext } = await openBackup(bytes, { password }, { attempts: noAttemptLimit });
    expect(await plaintext.bytes()).toEqual(plain);
    return true;
  } catch (err) {
    if (err instanceof IncorrectSecretError) return false;
    throw err;
  }
}

type Change = (source: Uint8Array, current: UnlockWith, attempts: LocalBackoffPolicy) => Promise<Uint8Array>;
const changes: Array<[string, Change]> = [
  [
    'changeBackupPassword',
    async (source, current, attempts) =>
      (await changeBackupPassword(source, current, NEW_PASSWORD, { attempts, argon2 })).output.bytes(),
  ],
  [
    'unlockBackup, keyring.changePassword, rewriteSlots',
    async (source, current, attempts) => {
      const keyring = await unlockBackup(source, current, { attempts });
      await keyring.changePassword(NEW_PASSWORD, { argon2 });
      return keyring.rewriteSlots([source]).bytes();
    },
  ],
];

describe.each(changes)('%s with a faulty attempt store', (_, change) => {
  it.each([
    ['the password', 'password'],
    ['the recovery key', 'recovery'],
  ] as const)(
    'unlocked with %s: old or new password always opens, and the attempt state stays consistent',
    async (_, scope) => {
      const current: UnlockWith = scope === 'password' ? { password: PASSWORD } : { recoveryKey };
      // A clean change makes 4 store calls (charge: get + write; give back and clear: get + write),
      // so faults at calls 1…5 cover every call and one past the end.
      const clean = faultyStore('throw', 0, async () => {});
      await change(file, current, new LocalBackoffPolicy({ store: clean, now }));
      expect(clean.calls).toBe(4);
      for (const cas of [true, false]) {
        for (const fault of FAULTS.filter((f) => cas || f !== 'stale')) {
          for (let at = 1; at <= 5; at++) {
            const where = `${fault} at call ${at}, compareAndSet: ${cas}`;
            let other = 0;
            const store = faultyStore(
              fault,
              at,
              async (inner) => {
                const r = await new LocalBackoffPolicy({ store: inner, now }).reserve(scope, [OTHER_SLOT]);
                if (r.allowed) other++;
              },
              cas,
            );
            const faulty = new LocalBackoffPolicy({ store, now });
            const fresh = new LocalBackoffPolicy({ store: store.inner, now });
            const argon2Provider = countingArgon2();
            let changed: Uint8Array | undefined;
            let refusals = 0;
            for (let tries = 0; tries < 3 && !changed; tries++) {
              const attempts = store.crashed ? fresh : faulty;
              try {
                changed = await change(file, current, attempts);
              } catch (err) {
                refusals++;
                expect(err, where).toBeInstanceOf(StoreError);
                // Refused: the stored file is untouched and still opens with the old password.
                expect(await opensWith(file, PASSWORD), where).toBe(true);
              }
            }
            expect(refusals, where).toBeLessThanOrEqual(1);
            expect(changed, where).toBeDefined();
            expect(await opensWith(changed as Uint8Array, NEW_PASSWORD), where).toBe(true);
            expect(await opensWith(changed as Uint8Array, PASSWORD), where).toBe(false);
            expect(await opensWith(file, PASSWORD), where).toBe(true); // an old copy keeps its password
            // The unlock that landed cleared its slot's failures (a charge a fault left included).
            expect(await fresh.check(scope), where).toMatchObject({
              failures: other,
              lockedUntil: undefined,
            });
            // The new password slot starts with no failures charged to it, and opens through the store.
            const reopened = await unlockBackup(
              changed as Uint8Array,
              { password: NEW_PASSWORD },
              { attempts: fresh, argon2Provider },
            );
            reopened.destroy();
          }
        }
      }
    },
  );
});
