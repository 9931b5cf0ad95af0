// A wrong guess costs one failure, however many slots of its kind the file carries. Before, every
// slot tried was charged: a file anyone can make (the victim's backup id, 8 garbage recovery slots)
// turned the user's one try with their genuine key into 8 failures — past the 5-failure budget at
// once, a 24-hour lock on recovery-key unlock of every backup, and failures no success clears.
import { BackupKeyring, IncorrectSecretError, RecoveryKey } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { nobleProvider } from '@e2ee-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { forgePreamble, rawSlots } from './forge.js';
import { PASSWORD, policyBench, victimAndAttacker } from './helpers.js';

let { victim, attacker, attackerDek } = {} as Awaited<ReturnType<typeof victimAndAttacker>>;
beforeAll(async () => {
  ({ victim, attacker, attackerDek } = await victimAndAttacker());
});

function setup() {
  const bench = policyBench();
  return { ...bench, failures: () => bench.failures('recovery') };
}

/** A 64-digit recovery slot of random bytes (type 02, length 65: format 01, salt, wrapped key). */
function garbageRecoverySlot(): Uint8Array {
  return Uint8Array.of(0x02, 0x00, 0x41, 0x01, ...nobleProvider.randomBytes(64));
}

describe('one wrong guess, one failure, whatever the slot count', () => {
  it('the genuine key against a forged file with 8 garbage recovery slots costs one failure, not a lockout', async () => {
    const s = setup();
    const slots = Array.from({ length: 8 }, garbageRecoverySlot);
    const forged = forgePreamble(victim.fileA, attackerDek, victim.keyring.backupId, slots);
    const { err } = await s.tryUnlock(forged, { recoveryKey: victim.recoveryKey });
    expect(err).toBeInstanceOf(IncorrectSecretError);
    expect((err as IncorrectSecretError).remainingAttempts).toBe(4);
    expect((err as IncorrectSecretError).lockedUntil).toBeUndefined();
    expect(await s.failures()).toBe(1);
    // The genuine backup still opens with the genuine key.
    expect((await s.tryUnlock(victim.fileA, { recoveryKey: victim.recoveryKey })).ok).toBe(true);
  });

  it('guesses aimed at the victim’s slot beside the attacker’s own: one each, and the attacker’s success clears none', async () => {
    const s = setup();
    const victimRecovery = rawSlots(victim.fileA).find((x) => x[0] === 0x02)!;
    const attackerRecovery = rawSlots(attacker.fileA).find((x) => x[0] === 0x02)!;
    for (const order of [
      [victimRecovery, attackerRecovery],
      [attackerRecovery, victimRecovery],
    ]) {
      const forged = forgePreamble(attacker.fileA, attackerDek, victim.keyring.backupId, order);
      const wrong = RecoveryKey.generate(nobleProvider.randomBytes);
      expect((await s.tryUnlock(forged, { recoveryKey: wrong })).err).toBeInstanceOf(IncorrectSecretError);
      expect((await s.tryUnlock(forged, { recoveryKey: attacker.recoveryKey })).ok).toBe(true);
    }
    expect(await s.failures()).toBe(2);
    // Five guesses in all lock, whichever file they were made on.
    for (let i = 0; i < 3; i++)
      await s.tryUnlock(victim.fileA, { recoveryKey: RecoveryKey.generate(nobleProvider.randomBytes) });
    expect((await s.attempts.check('recovery')).lockedUntil).toBeInstanceOf(Date);
  });

  it('a genuine file with two recovery keys: a wrong key costs one failure; opening with either charges nothing', async () => {
    const s = setup();
    const { keyring, recoveryKey } = await BackupKeyring.create({ recoveryKey: true });
    const second = await keyring.addRecoveryKey();
    const file = await keyring.encrypt([Uint8Array.of(1, 2, 3)]).bytes();
    const wrong = RecoveryKey.generate(nobleProvider.randomBytes);
    const { err } = await s.tryUnlock(file, { recoveryKey: wrong });
    expect((err as IncorrectSecretError).remainingAttempts).toBe(4);
    expect((await s.tryUnlock(file, { recoveryKey: second })).ok).toBe(true);
    expect((await s.tryUnlock(file, { recoveryKey: recoveryKey! })).ok).toBe(true);
    expect(await s.failures()).toBe(1); // the wrong key's: it may have been aimed at either slot
  });

  // The README's rule for passwords: one password slot per file, so nothing is ever charged to a set.
  it('a wrong password is charged to the one password slot and cleared by the next success on it; a changed password is a new slot', async () => {
    const s = policyBench();
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const file = await keyring.encrypt([Uint8Array.of(1)]).bytes();
    for (let i = 0; i < 2; i++)
      expect((await s.tryUnlock(file, { password: 'wrong horse battery staple' })).err).toBeInstanceOf(
        IncorrectSecretError,
      );
    expect(await s.failures()).toBe(2);
    expect((await s.tryUnlock(file, { password: PASSWORD })).ok).toBe(true);
    expect(await s.failures()).toBe(0);
    // Failures charged to the old slot stay counted once the password changed (a new slot, a new id).
    await s.tryUnlock(file, { password: 'wrong horse battery staple' });
    await keyring.changePassword('a new long password', { argon2: unsafeTestParams() });
    const changed = await keyring.rewriteSlots(file).bytes();
    expect((await s.tryUnlock(changed, { password: 'a new long password' })).ok).toBe(true);
    expect(await s.failures()).toBe(1);
  });
});
