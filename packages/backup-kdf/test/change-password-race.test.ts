// Two password changes on one keyring at once (two UI flows, a double submit): each runs Argon2, then
// writes the slot list. Written last-writer-wins, the change that finished first was told its
// password is set and was then silently replaced, so that password no longer opened anything.
// A change now lands only on the slots it read: the later one is refused with a typed error and
// the slots stay as the first change left them.
import {
  type Argon2Provider,
  BackupKeyring,
  E2eeError,
  ErrorCode,
  hashWasmArgon2Provider,
  IncorrectSecretError,
  noAttemptLimit,
  openBackup,
  SlotsChangedError,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../../tools/deferred.js';

const OLD = 'correct horse battery staple';
const FIRST = 'first tab new password';
const SECOND = 'second tab new password';
const argon2 = unsafeTestParams();

/** Argon2 that holds its `n`-th call (0-based) once started, until `release`; other calls run at once. */
function holdCall(n: number) {
  const started = deferred();
  const gate = deferred();
  let calls = 0;
  const provider: Argon2Provider = {
    name: 'held',
    supportsAssociatedData: false,
    async argon2id(input) {
      if (calls++ === n) {
        started.resolve();
        await gate.promise;
      }
      return hashWasmArgon2Provider.argon2id(input);
    },
  };
  return { provider, started: started.promise, release: gate.resolve };
}

async function opens(file: Uint8Array, password: string): Promise<boolean> {
  try {
    await (await openBackup(file, { password }, { attempts: noAttemptLimit })).plaintext.bytes();
    return true;
  } catch (err) {
    if (err instanceof IncorrectSecretError) return false;
    throw err;
  }
}

describe('keyring.changePassword: two changes at once', () => {
  it('the change that read stale slots is refused (BACKUP_SLOTS_CHANGED); the one that landed keeps working', async () => {
    // Call 0 is the creation's; call 1, the first change's, waits inside Argon2.
    const held = holdCall(1);
    const { keyring: ring } = await BackupKeyring.create({
      password: OLD,
      argon2,
      argon2Provider: held.provider,
    });
    const fileOfRing = await ring.encrypt([Uint8Array.of(4, 5, 6)]).bytes();

    const first = ring.changePassword(FIRST, { argon2 }).then(
      () => 'set',
      (err: unknown) => err,
    );
    await held.started; // the first change is inside Argon2, holding the slots it read
    await ring.changePassword(SECOND, { argon2 }); // the second change runs to the end
    const afterSecond = await ring.slotSection();
    held.release();
    const outcome = await first;

    // Nothing lost: the password the second change reported as set still opens the rewritten file,
    // and the slots are byte for byte what that change left.
    const rewritten = await ring.rewriteSlots(fileOfRing).bytes();
    expect(await opens(rewritten, SECOND)).toBe(true);
    expect(await opens(rewritten, FIRST)).toBe(false);
    expect(await ring.slotSection()).toEqual(afterSecond);
    // The change that read the old slots was told so, with a typed error.
    expect(outcome).toBeInstanceOf(SlotsChangedError);
    expect(E2eeError.is(outcome, ErrorCode.SlotsChanged)).toBe(true);
    expect((outcome as Error).message).not.toContain(FIRST);
    // Retried on the current slots, the refused change lands.
    await ring.changePassword(FIRST, { argon2 });
    expect(await opens(await ring.rewriteSlots(fileOfRing).bytes(), FIRST)).toBe(true);
  });
});
