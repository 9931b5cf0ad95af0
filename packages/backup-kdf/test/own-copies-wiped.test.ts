// Our own copies of a password — its normalized UTF-8 bytes, the copy each Argon2 run reads, the
// Argon2 output — are wiped once used, on success and on every failure path; the caller's bytes
// (an external slot's secret, a recovery key) are never touched. Unlocking wiped only the Argon2
// output, and only when the HKDF after it succeeded: the normalized password and the copy handed to
// Argon2 stayed in memory for the garbage collector, and password changes refused after the
// password was normalized left those bytes behind as well.
import {
  type Argon2Provider,
  BackupKeyring,
  type CryptoProvider,
  changeBackupPassword,
  hashWasmArgon2Provider,
  IncorrectSecretError,
  noAttemptLimit,
  nobleProvider,
  openBackup,
  type RecoveryKey,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { beforeEach, describe, expect, it, vi } from 'vitest';

// Every password byte array the package makes passes through password.ts: record each one.
const normalized: Uint8Array[] = [];
vi.mock('../src/password.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/password.js')>();
  const record = (b: Uint8Array) => {
    normalized.push(b);
    return b;
  };
  return {
    ...real,
    normalizePassword: (...a: Parameters<typeof real.normalizePassword>) =>
      record(real.normalizePassword(...a)),
    passwordBytes: (...a: Parameters<typeof real.passwordBytes>) => record(real.passwordBytes(...a)),
  };
});

// Likewise the copies of external slot secrets made at creation.
const externalCopies: Uint8Array[] = [];
vi.mock('../src/options.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/options.js')>();
  return {
    ...real,
    copyExternal: (...a: Parameters<typeof real.copyExternal>) => {
      const copy = real.copyExternal(...a);
      externalCopies.push(copy.secret);
      return copy;
    },
  };
});

const PASSWORD = 'correct horse battery staple';
const argon2 = unsafeTestParams();

/** Argon2 that records what it was given to read and what it returned. */
function spyArgon2() {
  const inputs: Uint8Array[] = [];
  const outputs: Uint8Array[] = [];
  const provider: Argon2Provider = {
    name: 'spy',
    supportsAssociatedData: false,
    async argon2id(input) {
      inputs.push(input.password);
      const out = await hashWasmArgon2Provider.argon2id(input);
      outputs.push(out);
      return out;
    },
  };
  return { provider, inputs, outputs };
}

const zero = (b: Uint8Array) => b.every((x) => x === 0);

/** Every recorded copy exists (the check ran over something) and is all zeros. */
function expectWiped(copies: Uint8Array[], atLeast: number) {
  expect(copies.length).toBeGreaterThanOrEqual(atLeast);
  for (const c of copies) expect(zero(c)).toBe(true);
}

let file: Uint8Array;
beforeEach(async () => {
  const { output } = await BackupKeyring.create({ password: PASSWORD, recoveryKey: true, argon2 }).then(
    async ({ keyring }) => ({ output: await keyring.encrypt([Uint8Array.of(1, 2, 3)]).bytes() }),
  );
  file = output;
  normalized.length = 0;
  externalCopies.length = 0;
});

describe('unlocking wipes its own copies of the password and the Argon2 output', () => {
  it('after a success', async () => {
    const spy = spyArgon2();
    const opened = await openBackup(
      file,
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider: spy.provider },
    );
    expect(await opened.plaintext.bytes()).toEqual(Uint8Array.of(1, 2, 3));
    expectWiped(normalized, 1);
    expectWiped(spy.inputs, 1);
    expectWiped(spy.outputs, 1);
  });

  it('after a wrong password', async () => {
    const spy = spyArgon2();
    const err = await openBackup(
      file,
      { password: 'wrong horse battery staple' },
      { attempts: noAttemptLimit, argon2Provider: spy.provider },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncorrectSecretError);
    expectWiped(normalized, 1);
    expectWiped(spy.inputs, 1);
    expectWiped(spy.outputs, 1);
  });

  it('after the HKDF following Argon2 fails', async () => {
    const spy = spyArgon2();
    const failing: CryptoProvider = {
      ...nobleProvider,
      hkdfSha256: async () => {
        throw new Error('provider failure');
      },
    };
    const err = await openBackup(
      file,
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider: spy.provider, provider: failing },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('provider failure');
    expectWiped(normalized, 1);
    expectWiped(spy.inputs, 1);
    expectWiped(spy.outputs, 1);
  });

  it('after the unwrap fails in the provider: the key-encryption key is wiped too', async () => {
    const keks: Uint8Array[] = [];
    const failing: CryptoProvider = {
      ...nobleProvider,
      hkdfSha256: async (...a: Parameters<CryptoProvider['hkdfSha256']>) => {
        const out = await nobleProvider.hkdfSha256(...a);
        keks.push(out);
        return out;
      },
      aes256GcmDecrypt: async () => {
        throw new Error('provider failure');
      },
    };
    const err = await openBackup(
      file,
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider: spyArgon2().provider, provider: failing },
    ).catch((e: unknown) => e);
    expect((err as Error).message).toBe('provider failure');
    expectWiped(keks, 1);
    expectWiped(normalized, 1);
  });

  it('never touches the caller’s bytes: an external secret and a recovery key still work after', async () => {
    const secret = new Uint8Array(32).map((_, i) => i + 1);
    const { keyring, recoveryKey } = await BackupKeyring.create({
      recoveryKey: true,
      external: [{ type: 0x90, secret }],
    });
    const f = await keyring.encrypt([Uint8Array.of(7)]).bytes();
    const answer = new Uint8Array(32).map((_, i) => i + 1);
    await openBackup(f, { external: async () => answer }, { attempts: noAttemptLimit });
    expect(answer).toEqual(secret);
    const key = recoveryKey as RecoveryKey;
    const digits = key.toDisplayString();
    await openBackup(f, { recoveryKey: key }, { attempts: noAttemptLimit });
    expect(key.toDisplayString()).toBe(digits);
    await openBackup(f, { recoveryKey: key }, { attempts: noAttemptLimit }); // still opens
  });
});

describe('password changes wipe the new password’s bytes when refused after normalizing it', () => {
  it('keyring.changePassword with Argon2 parameters below the floor', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2 });
    normalized.length = 0;
    await expect(
      keyring.changePassword('a new long password', {
        argon2: { memoryKiB: 8, iterations: 1, parallelism: 1 },
      }),
    ).rejects.toThrow(RangeError);
    expectWiped(normalized, 1);
  });

  it('changeBackupPassword, successful: the copy checked before unlocking is wiped too', async () => {
    const spy = spyArgon2();
    const changed = await changeBackupPassword(file, { password: PASSWORD }, 'a new long password', {
      attempts: noAttemptLimit,
      argon2,
      argon2Provider: spy.provider,
    });
    await changed.output.bytes();
    expectWiped(normalized, 3); // checked up front, the current password, the new slot's
    expectWiped(spy.inputs, 2);
    expectWiped(spy.outputs, 2);
  });

  it('BackupKeyring.create refused after the password was normalized', async () => {
    await expect(
      BackupKeyring.create({ password: PASSWORD, argon2: { memoryKiB: 8, iterations: 1, parallelism: 1 } }),
    ).rejects.toThrow(RangeError);
    expectWiped(normalized, 1);
  });

  it('BackupKeyring.create whose first slot’s KDF fails: the external secrets’ copies are wiped too', async () => {
    const secret = new Uint8Array(32).fill(9);
    const failing: Argon2Provider = {
      name: 'failing',
      supportsAssociatedData: false,
      argon2id: async () => {
        throw new Error('no memory');
      },
    };
    await expect(
      BackupKeyring.create({
        password: PASSWORD,
        argon2,
        argon2Provider: failing,
        external: [{ type: 0x90, secret }],
      }),
    ).rejects.toThrow('no memory');
    expectWiped(normalized, 1);
    expectWiped(externalCopies, 1);
    expect(secret).toEqual(new Uint8Array(32).fill(9)); // the caller's
  });

  it('BackupKeyring.create refused at its second external slot: the first one’s copy is wiped', async () => {
    const secret = new Uint8Array(32).fill(9);
    await expect(
      BackupKeyring.create({
        recoveryKey: true,
        external: [
          { type: 0x90, secret },
          { type: 0x10, secret },
        ],
      }),
    ).rejects.toThrow(RangeError);
    expectWiped(externalCopies, 1);
    expect(secret).toEqual(new Uint8Array(32).fill(9));
  });
});
