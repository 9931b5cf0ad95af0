// Issue 11.8: the lockout cannot be reset, multiplied or sidestepped by editing a file, by opening
// a forged file, or by opening a file of another backup; a success counts only once the slots (and
// header) authenticate; blank passwords and hostile Argon2 demands are refused before any KDF.
import {
  BackupErrorCode,
  BackupFormatError,
  BackupKeyring,
  changeBackupPassword,
  DEFAULT_MAX_ARGON2_MEMORY_KIB,
  IncorrectSecretError,
  LocalBackoffPolicy,
  MAX_TRACKED_SLOTS,
  MemoryAttemptStore,
  NoMatchingSlotError,
  noAttemptLimit,
  PasswordRejectedError,
  RecoveryKey,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { type E2eeError, LockedOutError, nobleProvider, StoreError } from '@e2ee-kit/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { forgePreamble, rawSlots } from './forge.js';
import { fixedArgon2, layout, makeSet, PASSWORD, policyBench, victimAndAttacker } from './helpers.js';

let { victim, attacker, attackerDek } = {} as Awaited<ReturnType<typeof victimAndAttacker>>;
beforeAll(async () => {
  ({ victim, attacker, attackerDek } = await victimAndAttacker());
});

function setup(maxFailures = 5) {
  const bench = policyBench(maxFailures);
  const { tryUnlock } = bench;
  return {
    ...bench,
    /** `n` wrong passwords against the victim's genuine file. */
    burn: async (n: number) => {
      for (let i = 0; i < n; i++) {
        const { err } = await tryUnlock(victim.fileA, { password: `wrong guess ${i}` });
        expect(err).toBeInstanceOf(IncorrectSecretError);
      }
    },
  };
}

const wrongKey = () => RecoveryKey.generate(nobleProvider.randomBytes);

describe('byte-flip sweep over a real file’s header and slot section', () => {
  it('no edit of any byte resets the budget, and every guess on an edited file counts against the same budget', async () => {
    const { slotEnd } = layout(victim.fileA, 4096);
    const kinds = new Map<string, number>();
    for (let i = 0; i < slotEnd; i++) {
      for (const mask of [0x01, 0xff]) {
        const where = `byte ${i} ^ ${mask.toString(16)}`;
        const s = setup();
        await s.burn(4); // one attempt left
        const edited = victim.fileA.slice();
        edited[i]! ^= mask;

        // The right password on the edited file: never a success, never a reset.
        const right = await s.tryUnlock(edited, { password: PASSWORD });
        expect(right.ok, where).toBe(false);
        expect(await s.failures(), where).toBeGreaterThanOrEqual(4);

        // A wrong password on the edited file: either refused before any KDF (and not counted),
        // or counted against the same budget — which then locks the genuine file.
        const calls = s.argon2Provider.calls;
        const wrong = await s.tryUnlock(edited, { password: 'another wrong guess' });
        expect(wrong.ok, where).toBe(false);
        const ranKdf = s.argon2Provider.calls > calls;
        const kind = ranKdf
          ? 'counted'
          : wrong.err instanceof LockedOutError
            ? 'locked'
            : (wrong.err as E2eeError).code;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        if (ranKdf) expect(wrong.err, where).toBeInstanceOf(IncorrectSecretError);
        else if (!(wrong.err instanceof LockedOutError)) {
          // e.g. bad magic, a malformed slot, or the password slot turned into another type
          expect(
            wrong.err instanceof BackupFormatError || wrong.err instanceof NoMatchingSlotError,
            where,
          ).toBe(true);
        }
        if (ranKdf || wrong.err instanceof LockedOutError) {
          const genuine = await s.tryUnlock(victim.fileA, { password: PASSWORD });
          expect(genuine.err, where).toBeInstanceOf(LockedOutError);
        } else {
          // Refused by the decoder: the budget is exactly where it was (one attempt left).
          expect(await s.failures(), where).toBe(4);
        }
      }
    }
    // The sweep exercised both paths (guard against a sweep that never reaches the KDF).
    expect(kinds.get('counted') ?? 0).toBeGreaterThan(100);
    expect(kinds.get(BackupErrorCode.BadMagic) ?? 0).toBeGreaterThan(0);
  }, 300_000);
});

describe('the same sweep for the recovery key (no Argon2: counted = IncorrectSecretError)', () => {
  it('no edit resets the recovery budget; guesses on edited files count against it', async () => {
    const { slotEnd } = layout(victim.fileA, 4096);
    let counted = 0;
    for (let i = 0; i < slotEnd; i++) {
      const where = `byte ${i}`;
      const s = setup();
      for (let k = 0; k < 4; k++) {
        expect((await s.tryUnlock(victim.fileA, { recoveryKey: wrongKey() })).err).toBeInstanceOf(
          IncorrectSecretError,
        );
      }
      const edited = victim.fileA.slice();
      edited[i]! ^= 0x01;
      expect((await s.tryUnlock(edited, { recoveryKey: victim.recoveryKey })).ok, where).toBe(false);
      expect(await s.failures('recovery'), where).toBeGreaterThanOrEqual(4);
      const wrong = await s.tryUnlock(edited, { recoveryKey: wrongKey() });
      if (wrong.err instanceof IncorrectSecretError || wrong.err instanceof LockedOutError) {
        counted++;
        expect(
          (await s.tryUnlock(victim.fileA, { recoveryKey: victim.recoveryKey })).err,
          where,
        ).toBeInstanceOf(LockedOutError);
      } else {
        expect(
          wrong.err instanceof BackupFormatError || wrong.err instanceof NoMatchingSlotError,
          where,
        ).toBe(true);
        expect(await s.failures('recovery'), where).toBe(4);
      }
    }
    expect(counted).toBeGreaterThan(100);
  }, 300_000);
});

describe('a success counts only after the slots and header authenticate', () => {
  for (const [what, edit] of [
    ['slots MAC', (f: Uint8Array) => (f[layout(f, 4096).slotEnd - 1]! ^= 1)],
    ['recovery slot (another slot than the one unwrapped)', (f: Uint8Array) => (f[200]! ^= 1)],
    ['backup id', (f: Uint8Array) => (f[12]! ^= 1)],
    ['file nonce (header tag fails)', (f: Uint8Array) => (f[40]! ^= 1)],
  ] as const) {
    it(`${what} edited: the right password unwraps, is refused, and clears nothing`, async () => {
      const s = setup();
      await s.burn(4);
      const bad = victim.fileA.slice();
      edit(bad);
      for (let i = 0; i < 3; i++) {
        const { err } = await s.tryUnlock(bad, { password: PASSWORD });
        expect([BackupErrorCode.SlotsTampered, BackupErrorCode.HeaderTampered]).toContain(
          (err as E2eeError).code,
        );
      }
      expect(await s.failures()).toBe(4);
      await s.burn(1);
      expect((await s.tryUnlock(victim.fileA, { password: PASSWORD })).err).toBeInstanceOf(LockedOutError);
    });
  }
});

describe('forged files and files of other backups', () => {
  it('opening the attacker’s own file, even re-MACed under the victim’s backup id, gives no guesses back', async () => {
    const s = setup();
    await s.burn(4);
    const forged = forgePreamble(
      attacker.fileA,
      attackerDek,
      victim.keyring.backupId,
      rawSlots(attacker.fileA),
    );
    expect((await s.tryUnlock(forged, { password: PASSWORD })).ok).toBe(true); // attacker's password
    expect((await s.tryUnlock(attacker.fileA, { recoveryKey: attacker.recoveryKey })).ok).toBe(true);
    expect(await s.failures()).toBe(4);
    await s.burn(1);
    expect((await s.tryUnlock(victim.fileA, { password: PASSWORD })).err).toBeInstanceOf(LockedOutError);
  });

  it('the victim’s slot copied into a forged file: each guess is charged once; no success clears it', async () => {
    const s = setup(100);
    const victimRecovery = rawSlots(victim.fileA).find((x) => x[0] === 0x02)!;
    const attackerRecovery = rawSlots(attacker.fileA).find((x) => x[0] === 0x02)!;
    const forged = forgePreamble(attacker.fileA, attackerDek, victim.keyring.backupId, [
      victimRecovery,
      attackerRecovery,
    ]);
    for (let i = 0; i < 3; i++) {
      expect((await s.tryUnlock(forged, { recoveryKey: wrongKey() })).err).toBeInstanceOf(
        IncorrectSecretError,
      );
    }
    // One failure per guess, both slots tried (charging each slot made it 6: lockout-slot-count.test.ts).
    expect(await s.failures('recovery')).toBe(3);
    expect((await s.tryUnlock(forged, { recoveryKey: attacker.recoveryKey })).ok).toBe(true);
    expect(await s.failures('recovery')).toBe(3); // the attacker's success gives none back
    // Nor does the victim's: a guess tried on both slots may have been aimed at either, and a success
    // on the slot it was aimed at cannot be told from one on the other.
    expect((await s.tryUnlock(victim.fileA, { recoveryKey: victim.recoveryKey })).ok).toBe(true);
    expect(await s.failures('recovery')).toBe(3);
  });

  it('a copy of the victim’s password slot beside a second password slot is refused before any KDF', async () => {
    // One password slot per file is what keeps a forger from trying a guess on the victim's slot
    // and then opening a slot of their own with it (a success, whose earlier tries are not charged).
    const s = setup();
    const victimPassword = rawSlots(victim.fileA).find((x) => x[0] === 0x01)!;
    const attackerPassword = rawSlots(attacker.fileA).find((x) => x[0] === 0x01)!;
    for (const slots of [
      [victimPassword, attackerPassword],
      [attackerPassword, victimPassword],
    ]) {
      const forged = forgePreamble(attacker.fileA, attackerDek, victim.keyring.backupId, slots);
      const { err } = await s.tryUnlock(forged, { password: PASSWORD });
      expect(err).toBeInstanceOf(BackupFormatError);
      expect((err as BackupFormatError).code).toBe(BackupErrorCode.Malformed);
    }
    expect(s.argon2Provider.calls).toBe(0);
    expect(await s.failures()).toBe(0);
  });

  it('the victim’s slot under a forged header and MAC: guesses count against the same budget', async () => {
    const s = setup();
    const victimPassword = rawSlots(victim.fileA).find((x) => x[0] === 0x01)!;
    const forged = forgePreamble(attacker.fileA, attackerDek, attacker.keyring.backupId, [victimPassword]);
    await s.burn(2);
    for (let i = 0; i < 3; i++) {
      expect((await s.tryUnlock(forged, { password: `forged guess ${i}` })).err).toBeInstanceOf(
        IncorrectSecretError,
      );
    }
    expect((await s.tryUnlock(victim.fileA, { password: PASSWORD })).err).toBeInstanceOf(LockedOutError);
  });

  it('another backup of the same user: its success does not clear this one’s failures; its failures share the budget', async () => {
    const s = setup();
    await s.burn(3);
    const other = await makeSet();
    expect((await s.tryUnlock(other.fileA, { password: PASSWORD })).ok).toBe(true);
    expect(await s.failures()).toBe(3);
    expect((await s.tryUnlock(other.fileA, { password: 'wrong on the other' })).err).toBeInstanceOf(
      IncorrectSecretError,
    );
    await s.burn(1);
    expect((await s.tryUnlock(victim.fileA, { password: PASSWORD })).err).toBeInstanceOf(LockedOutError);
    // After the wait, the right password on this backup clears its own failures only.
    s.advance(30_000);
    expect((await s.tryUnlock(victim.fileA, { password: PASSWORD })).ok).toBe(true);
    expect(await s.failures()).toBe(1);
  });

  it('a second file of the same backup set shares the slot, so a success on either clears both', async () => {
    const s = setup();
    await s.burn(4);
    expect((await s.tryUnlock(victim.fileB, { password: PASSWORD })).ok).toBe(true);
    expect(await s.failures()).toBe(0);
  });
});

describe('blank passwords are refused before any KDF', () => {
  const blanks = [
    '',
    ' ',
    '        ',
    '\t\n\r        ',
    '\u00a0\u3000\u2003\u2002\u2009\u200a\u202f\u205f',
    '\u200b'.repeat(8),
    `${'\ufeff'.repeat(8)} `,
    '\u3164'.repeat(8),
    '\u00ad\u2060\u200c\u200d\u034f\ufe0f\u180e\u2061',
  ];
  it('on open (not counted), at creation and as a new password', async () => {
    const s = setup();
    for (const pw of blanks) {
      const { err } = await s.tryUnlock(victim.fileA, { password: pw });
      expect(err, JSON.stringify(pw)).toBeInstanceOf(PasswordRejectedError);
      expect((err as PasswordRejectedError).code).toBe(BackupErrorCode.PasswordEmpty);
      await expect(
        BackupKeyring.create({ password: pw, argon2: unsafeTestParams(), argon2Provider: s.argon2Provider }),
      ).rejects.toMatchObject({ code: BackupErrorCode.PasswordEmpty });
      await expect(
        changeBackupPassword(victim.fileA, { password: PASSWORD }, pw, {
          attempts: s.attempts,
          argon2Provider: s.argon2Provider,
          argon2: unsafeTestParams(),
        }),
      ).rejects.toMatchObject({ code: BackupErrorCode.PasswordEmpty });
    }
    expect(s.argon2Provider.calls).toBe(0);
    expect(await s.failures()).toBe(0);
    // Passwords with visible characters among the spaces are fine.
    expect((await s.tryUnlock(victim.fileA, { password: '   a       ' })).err).toBeInstanceOf(
      IncorrectSecretError,
    );
  });
});

describe('the reader’s Argon2 memory cap', () => {
  // password slot body starts at 96: kdf(96) m(97..100)
  const hostile = (mKiB: number) => {
    const f = victim.fileA.slice(0, 300); // 300 bytes: header, slots, a little payload
    new DataView(f.buffer).setUint32(97, mKiB);
    return f;
  };
  const fake = fixedArgon2;

  it('defaults to the phone guidance (256 MiB): a 300-byte file asking for more is refused before Argon2', async () => {
    expect(DEFAULT_MAX_ARGON2_MEMORY_KIB).toBe(256 * 1024);
    for (const m of [256 * 1024 + 1, 300 * 1024, 1024 * 1024]) {
      const argon2Provider = fake();
      const err = await unlockBackup(
        hostile(m),
        { password: PASSWORD },
        { attempts: noAttemptLimit, argon2Provider },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackupFormatError);
      expect(err).toMatchObject({ code: BackupErrorCode.ParameterOutOfRange, field: 'm_kib' });
      expect(argon2Provider.calls).toBe(0);
    }
    const atCap = fake();
    const err = await unlockBackup(
      hostile(256 * 1024),
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider: atCap },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncorrectSecretError); // reached the KDF (the slot was edited)
    expect(atCap.calls).toBe(1);
  });

  it('larger files need an explicit opt-in, at most the format’s 1 GiB', async () => {
    const argon2Provider = fake();
    const err = await unlockBackup(
      hostile(1024 * 1024),
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider, maxArgon2MemoryKiB: 1024 * 1024 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncorrectSecretError);
    expect(argon2Provider.calls).toBe(1);
    for (const bad of [1024 * 1024 + 1, -1, 1.5, Number.NaN]) {
      await expect(
        unlockBackup(
          victim.fileA,
          { password: PASSWORD },
          { attempts: noAttemptLimit, maxArgon2MemoryKiB: bad },
        ),
      ).rejects.toBeInstanceOf(RangeError);
    }
  });
});

describe('a store that cannot be written', () => {
  it('fails every attempt the same way (StoreError), right or wrong: no guessing oracle, no keyring', async () => {
    const inner = new MemoryAttemptStore();
    const store = {
      get: (k: string) => inner.get(k),
      set: async () => Promise.reject(new Error('disk full')),
    };
    const attempts = new LocalBackoffPolicy({ store });
    for (const pw of ['wrong password', PASSWORD]) {
      const err = await unlockBackup(victim.fileA, { password: pw }, { attempts }).catch((e: unknown) => e);
      expect(err, pw).toBeInstanceOf(StoreError);
    }
  });
});

describe('LocalBackoffPolicy records', () => {
  const id = (n: number) => n.toString(16).padStart(32, '0');

  it('track at most MAX_TRACKED_SLOTS slots; older failures stay counted but no success clears them', async () => {
    const store = new MemoryAttemptStore();
    const p = new LocalBackoffPolicy({ store, maxFailures: 1000 });
    for (let i = 0; i < MAX_TRACKED_SLOTS + 8; i++) await p.recordFailure('password', [id(i)]);
    expect((await store.get('password'))!.length).toBe(15 + 20 * MAX_TRACKED_SLOTS);
    expect((await p.check('password')).failures).toBe(MAX_TRACKED_SLOTS + 8);
    await p.recordSuccess('password', id(0)); // folded away: cannot be cleared any more
    expect((await p.check('password')).failures).toBe(MAX_TRACKED_SLOTS + 8);
    await p.recordSuccess('password', id(MAX_TRACKED_SLOTS + 7));
    expect((await p.check('password')).failures).toBe(MAX_TRACKED_SLOTS + 7);
  });

  it('a 0.1.0 (v1) record still loads: its failures stay counted', async () => {
    const store = new MemoryAttemptStore();
    // frozen v1 bytes: tag a7, version 01, failures 3, lockedUntil 0
    await store.set('password', Uint8Array.from(Buffer.from('a701000000030000000000000000', 'hex')));
    const p = new LocalBackoffPolicy({ store });
    expect(await p.check('password')).toEqual({ failures: 3, remainingAttempts: 2, lockedUntil: undefined });
    await p.recordSuccess('password', id(1));
    expect((await p.check('password')).failures).toBe(3);
  });

  it('refuses slot ids that are not 32 hex characters, and malformed v2 records', async () => {
    const store = new MemoryAttemptStore();
    const p = new LocalBackoffPolicy({ store });
    await expect(p.recordFailure('password', ['xyz'])).rejects.toBeInstanceOf(TypeError);
    await expect(p.recordFailure('password', [])).rejects.toBeInstanceOf(TypeError);
    await p.recordFailure('password', [id(1)]);
    const good = (await store.get('password'))!;
    for (const bad of [
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
      Uint8Array.of(0xa7, 3),
    ]) {
      await store.set('password', bad);
      await expect(p.check('password')).rejects.toMatchObject({ code: 'DECODE' });
    }
  });
});
