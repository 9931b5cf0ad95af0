// Creation is held to the readers' default caps (m ≤ 256 MiB, m·t ≤ 64 MiB × 10): a backup made
// above them is one this same package refuses to open without an opt-in, and the user learns that
// at restore time, when nothing can be done. Creating above the caps takes the same opt-in the
// reader needs (`maxArgon2MemoryKiB` / `maxArgon2Work`), and what calibrateArgon2 picks under a cap
// is creatable and openable under that same cap.
import {
  type Argon2Params,
  type Argon2Provider,
  BackupKeyring,
  calibrateArgon2,
  changeBackupPassword,
  noAttemptLimit,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { fixedArgon2, PASSWORD } from './helpers.js';

const MiB = 1024;
const overWork: Argon2Params = { memoryKiB: 128 * MiB, iterations: 10, parallelism: 4 }; // 2× the work cap
const overMemory: Argon2Params = { memoryKiB: 512 * MiB, iterations: 2, parallelism: 4 }; // m > 256 MiB

/** Creates with `argon2` and the given caps, then opens with the same caps (or the defaults). */
async function createThenOpen(
  argon2: Argon2Params,
  caps: { maxArgon2MemoryKiB?: number; maxArgon2Work?: number },
) {
  const argon2Provider = fixedArgon2();
  const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2, argon2Provider, ...caps });
  const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
  return unlockBackup(file, { password: PASSWORD }, { attempts: noAttemptLimit, argon2Provider, ...caps });
}

describe('creation refuses Argon2 parameters its own readers refuse by default', () => {
  it('refuses m·t above the work cap and m above the memory cap, naming the opt-in, before any KDF', async () => {
    for (const [params, option] of [
      [overWork, 'maxArgon2Work'],
      [overMemory, 'maxArgon2MemoryKiB'],
    ] as const) {
      const argon2Provider = fixedArgon2();
      const err = await BackupKeyring.create({ password: PASSWORD, argon2: params, argon2Provider }).catch(
        (e: unknown) => e,
      );
      expect(err, option).toBeInstanceOf(RangeError);
      expect((err as Error).message).toContain(option);
      expect(argon2Provider.calls).toBe(0);
    }
  });

  it('changePassword and changeBackupPassword refuse them too, before any KDF and any attempt', async () => {
    const argon2Provider = fixedArgon2();
    const { keyring } = await BackupKeyring.create({
      password: PASSWORD,
      argon2: unsafeTestParams(),
      argon2Provider,
    });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const calls = argon2Provider.calls;
    await expect(keyring.changePassword('another long password', { argon2: overWork })).rejects.toThrow(
      /maxArgon2Work/,
    );
    await expect(
      changeBackupPassword(file, { password: PASSWORD }, 'another long password', {
        argon2: overWork,
        argon2Provider,
        attempts: noAttemptLimit,
      }),
    ).rejects.toThrow(/maxArgon2Work/);
    expect(argon2Provider.calls).toBe(calls);
  });

  it('with the opt-in, creates a backup that opens with the same opt-in', async () => {
    await expect(createThenOpen(overWork, { maxArgon2Work: 128 * MiB * 10 })).resolves.toBeInstanceOf(
      BackupKeyring,
    );
    await expect(createThenOpen(overMemory, { maxArgon2MemoryKiB: 512 * MiB })).resolves.toBeInstanceOf(
      BackupKeyring,
    );
    const argon2Provider = fixedArgon2();
    const { keyring } = await BackupKeyring.create({
      password: PASSWORD,
      argon2: unsafeTestParams(),
      argon2Provider,
    });
    await keyring.changePassword('another long password', {
      argon2: overWork,
      maxArgon2Work: 128 * MiB * 10,
    });
    expect(keyring.slots[0]).toEqual({ type: 'password', argon2: overWork });
  });

  it('the defaults and parameters at the caps are accepted without any opt-in', async () => {
    await expect(
      createThenOpen({ memoryKiB: 64 * MiB, iterations: 10, parallelism: 4 }, {}),
    ).resolves.toBeInstanceOf(BackupKeyring);
    await expect(
      createThenOpen({ memoryKiB: 256 * MiB, iterations: 2, parallelism: 4 }, {}),
    ).resolves.toBeInstanceOf(BackupKeyring);
  });
});

describe('calibrateArgon2 stays within the caps it is given', () => {
  function fakeDevice(msPerMiBPass: number): { provider: Argon2Provider; now: () => number } {
    let clock = 0;
    return {
      provider: {
        name: 'fake',
        supportsAssociatedData: false,
        async argon2id(input) {
          clock += (input.memoryKiB / 1024) * input.iterations * msPerMiBPass;
          return new Uint8Array(input.hashLength);
        },
      },
      now: () => clock,
    };
  }

  it('its result is creatable and openable under the same caps, for any device speed', async () => {
    const caps: Array<{ maxMemoryKiB?: number; maxWork?: number }> = [
      {},
      { maxMemoryKiB: 128 * MiB },
      { maxMemoryKiB: 1024 * MiB },
      { maxWork: 256 * MiB * 10 },
      { maxMemoryKiB: 32 * MiB, maxWork: 96 * MiB },
    ];
    for (const cap of caps) {
      for (const speed of [0.01, 0.05, 0.5, 2, 10, 100]) {
        const d = fakeDevice(speed);
        const p = await calibrateArgon2({ targetMs: 750, argon2Provider: d.provider, now: d.now, ...cap });
        const memoryCap = cap.maxMemoryKiB ?? 256 * MiB;
        const workCap =
          cap.maxWork ?? (cap.maxMemoryKiB === undefined ? 64 * MiB * 10 : cap.maxMemoryKiB * 10);
        const at = `${JSON.stringify(cap)} at ${speed} ms/MiB·pass → ${JSON.stringify(p)}`;
        expect(p.memoryKiB, at).toBeLessThanOrEqual(memoryCap);
        expect(p.memoryKiB * p.iterations, at).toBeLessThanOrEqual(workCap);
        const opened = createThenOpen(p, {
          ...(cap.maxMemoryKiB !== undefined ? { maxArgon2MemoryKiB: cap.maxMemoryKiB } : {}),
          ...(cap.maxWork !== undefined ? { maxArgon2Work: cap.maxWork } : {}),
        });
        await expect(opened, at).resolves.toBeInstanceOf(BackupKeyring);
      }
    }
  });
});
