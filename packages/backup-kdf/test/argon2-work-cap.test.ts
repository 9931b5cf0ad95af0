// The reader's default cap on Argon2 work (m·t), not only on memory: a few hundred hostile bytes
// asking for 256 MiB × 10 passes cost a phone a minute of noble Argon2 per open. The default is what
// the phone guidance allows (m ≤ 64 MiB with calibration's t ≤ 10); larger files need an opt-in, and
// calibration by default never makes a file the default reader refuses (argon2.test.ts).
import {
  BackupErrorCode,
  BackupFormatError,
  BackupKeyring,
  DEFAULT_MAX_ARGON2_WORK,
  IncorrectSecretError,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  noAttemptLimit,
  type OpenOptions,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixedArgon2, PASSWORD } from './helpers.js';

const MiB = 1024;
let file: Uint8Array;
beforeAll(async () => {
  const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
  file = await keyring.encrypt([new Uint8Array(10)]).bytes();
});

/** The file with its password slot's m and t edited (slot body at 96: kdf, m 97…100, t 101…104). */
function hostile(mKiB: number, t: number): Uint8Array {
  const f = file.slice();
  const view = new DataView(f.buffer);
  view.setUint32(97, mKiB);
  view.setUint32(101, t);
  return f;
}

async function tryOpen(f: Uint8Array, options: OpenOptions = {}) {
  const argon2Provider = fixedArgon2();
  const err = await unlockBackup(
    f,
    { password: PASSWORD },
    { attempts: noAttemptLimit, argon2Provider, ...options },
  ).catch((e: unknown) => e);
  return { err, calls: argon2Provider.calls };
}

describe('the reader’s default Argon2 work cap (m·t)', () => {
  it('is 64 MiB × 10 passes, the most the phone guidance allows', () => {
    expect(DEFAULT_MAX_ARGON2_WORK).toBe(64 * MiB * 10);
  });

  it('refuses m·t above it before any KDF runs, field t, not an attempt', async () => {
    for (const [m, t] of [
      [256 * MiB, 10],
      [128 * MiB, 10],
      [256 * MiB, 3],
      [65 * MiB, 10],
    ] as const) {
      const store = new MemoryAttemptStore();
      const attempts = new LocalBackoffPolicy({ store });
      const { err, calls } = await tryOpen(hostile(m, t), { attempts });
      expect(err, `${m} KiB × ${t}`).toBeInstanceOf(BackupFormatError);
      expect(err).toMatchObject({ code: BackupErrorCode.ParameterOutOfRange, field: 't' });
      expect(calls).toBe(0);
      expect((await attempts.check('password')).remainingAttempts).toBe(5);
    }
  });

  it('lets files within it reach the KDF', async () => {
    for (const [m, t] of [
      [64 * MiB, 10],
      [256 * MiB, 2],
      [128 * MiB, 5],
    ] as const) {
      const { err, calls } = await tryOpen(hostile(m, t));
      expect(err, `${m} KiB × ${t}`).toBeInstanceOf(IncorrectSecretError); // the slot was edited
      expect(calls).toBe(1);
    }
  });

  it('larger files need an explicit opt-in: maxArgon2Work, or a memory cap set explicitly', async () => {
    const big = hostile(256 * MiB, 10);
    expect((await tryOpen(big, { maxArgon2Work: 256 * MiB * 10 })).calls).toBe(1);
    // Setting maxArgon2MemoryKiB keeps meaning what it meant: that memory at up to 10 passes.
    expect((await tryOpen(big, { maxArgon2MemoryKiB: 256 * MiB })).calls).toBe(1);
    expect((await tryOpen(hostile(1024 * MiB, 3), { maxArgon2MemoryKiB: 1024 * MiB })).calls).toBe(1);
    // An explicit work cap wins over the memory cap's implied one.
    const both = await tryOpen(big, { maxArgon2MemoryKiB: 256 * MiB, maxArgon2Work: 64 * MiB * 10 });
    expect(both.err).toMatchObject({ code: BackupErrorCode.ParameterOutOfRange, field: 't' });
    expect(both.calls).toBe(0);
    for (const bad of [-1, 1.5, Number.NaN, 1024 * MiB * 10 + 1]) {
      await expect(
        unlockBackup(file, { password: PASSWORD }, { attempts: noAttemptLimit, maxArgon2Work: bad }),
      ).rejects.toBeInstanceOf(RangeError);
    }
  });
});
