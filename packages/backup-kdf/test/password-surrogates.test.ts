// A password with an unpaired UTF-16 surrogate (text cut in the middle of an emoji, a broken input
// method) cannot be encoded as UTF-8: TextEncoder writes U+FFFD, so 'a\uD800…' and 'a\uDBFF…' and
// 'a\uFFFD…' would all derive the same key. Setting such a password is refused before any KDF;
// opening still accepts one, because releases before the refusal stored its U+FFFD encoding.
import {
  BackupErrorCode,
  BackupKeyring,
  changeBackupPassword,
  ErrorCode,
  normalizePassword,
  PasswordRejectedError,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { E2eeError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { collect, concat, countingArgon2 } from './helpers.js';

const bytesOf = async (stream: AsyncIterable<Uint8Array>) => concat((await collect(stream)).chunks);

const malformed = [
  'password\uD800', // high surrogate at the end
  '\uDC00password', // low surrogate first
  'pass\uD83Dword!', // high surrogate followed by a letter
  'pass\uDE00\uD83Dword', // a pair in the wrong order
  'pass\uD83D\uD83D\uDE00word', // a lone high surrogate before a valid pair
];
const wellFormed = [
  'pass\uD83D\uDE00word',
  '\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00\uD83D\uDE00',
];

describe('passwords with an unpaired surrogate', () => {
  it('are refused as new passwords with PASSWORD_MALFORMED; valid pairs are fine', () => {
    for (const pw of malformed) {
      let err: unknown;
      try {
        normalizePassword(pw, 8);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(pw)).toBeInstanceOf(PasswordRejectedError);
      expect(E2eeError.is(err, ErrorCode.PasswordMalformed)).toBe(true);
      // The message names the problem, never the password.
      expect((err as Error).message).toBe(
        'password contains an unpaired UTF-16 surrogate (broken text input)',
      );
    }
    for (const pw of wellFormed) expect(normalizePassword(pw).length).toBeGreaterThan(0);
  });

  it('at creation and as a new password, before any KDF runs', async () => {
    const argon2Provider = countingArgon2();
    const { keyring } = await BackupKeyring.create({
      password: 'a fine password',
      argon2: unsafeTestParams(),
      argon2Provider,
    });
    const file = await bytesOf(keyring.encrypt(new Uint8Array(10)));
    const before = argon2Provider.calls;
    for (const pw of malformed) {
      await expect(
        BackupKeyring.create({ password: pw, argon2: unsafeTestParams(), argon2Provider }),
      ).rejects.toMatchObject({ code: BackupErrorCode.PasswordMalformed });
      await expect(keyring.changePassword(pw, { argon2: unsafeTestParams() })).rejects.toMatchObject({
        code: BackupErrorCode.PasswordMalformed,
      });
      await expect(
        changeBackupPassword(file, { password: 'a fine password' }, pw, {
          argon2Provider,
          argon2: unsafeTestParams(),
        }),
      ).rejects.toMatchObject({ code: BackupErrorCode.PasswordMalformed });
    }
    expect(argon2Provider.calls).toBe(before);
  });

  it('a backup whose password an earlier release encoded with U+FFFD still opens with that string', async () => {
    const typed = 'secret \uD83D backup';
    // What every earlier release derived from `typed`: its UTF-8 with U+FFFD for the lone surrogate.
    const stored = 'secret \uFFFD backup';
    expect(new TextEncoder().encode(typed)).toEqual(new TextEncoder().encode(stored));
    const argon2Provider = countingArgon2();
    const { keyring } = await BackupKeyring.create({
      password: stored,
      argon2: unsafeTestParams(),
      argon2Provider,
    });
    const file = await bytesOf(keyring.encrypt(new Uint8Array(10)));
    const opened = await unlockBackup(file, { password: typed }, { argon2Provider });
    opened.destroy();
  });
});
