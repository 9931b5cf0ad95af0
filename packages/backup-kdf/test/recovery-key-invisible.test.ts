// A recovery key copied from a chat app, a web page or a PDF carries invisible characters the user
// never typed: zero-width spaces and joiners (line-break hints), word joiners, soft hyphens, a BOM,
// bidi marks and isolates around numbers. None can be a digit, and the key is checksummed, so they
// are dropped like spaces: a key pasted with them is the key shown, not a "wrong format".
import {
  BackupErrorCode,
  BackupKeyring,
  checkRecoveryKey,
  importHexRecoveryKey,
  noAttemptLimit,
  parseRecoveryKey,
  RecoveryKey,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { PASSWORD } from './helpers.js';

const INVISIBLE = [
  '\u200b', // zero-width space
  '\u200c', // zero-width non-joiner
  '\u200d', // zero-width joiner
  '\u2060', // word joiner
  '\u00ad', // soft hyphen
  '\u200e', // left-to-right mark
  '\u200f', // right-to-left mark
  '\u202a', // left-to-right embedding
  '\u202c', // pop directional formatting
  '\u2066', // left-to-right isolate
  '\u2069', // pop directional isolate
  '\u180e', // Mongolian vowel separator (no longer white space)
];

/** `text` with `mark` after every character (between groups and inside them). */
const sprinkle = (text: string, mark: string) => [...text].map((c) => c + mark).join('');

describe('invisible characters in a pasted recovery key', () => {
  it('are ignored like spaces: the key parses to itself and opens its backup', async () => {
    const { keyring, recoveryKey } = await BackupKeyring.create({
      password: PASSWORD,
      recoveryKey: true,
      argon2: unsafeTestParams(),
    });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const shown = recoveryKey!.toDisplayString();
    for (const mark of INVISIBLE) {
      const pasted = `${mark}${sprinkle(shown, mark)}`;
      const at = `U+${mark.codePointAt(0)!.toString(16)}`;
      expect(parseRecoveryKey(pasted).toDisplayString(), at).toBe(shown);
      const check = checkRecoveryKey(pasted);
      expect(check.ok, at).toBe(true);
      await expect(
        unlockBackup(file, { recoveryKey: pasted }, { attempts: noAttemptLimit }),
        at,
      ).resolves.toBeInstanceOf(BackupKeyring);
    }
  });

  it('are ignored in an imported hex key too', () => {
    const hex = 'b1ef5568c3f4a9e7d1c2b3a4958677f8091a2b3c4d5e6f708192a3b4c5d67c11';
    for (const mark of INVISIBLE) {
      expect(importHexRecoveryKey(sprinkle(hex, mark)).toDisplayString().replace(/ /g, '')).toBe(hex);
    }
  });

  it('a typo among them is still a checksum failure; a visible foreign character a format error', () => {
    const key = RecoveryKey.generate(createDeterministicRandom('invisible'));
    const d = key.toDisplayString().replace(/ /g, '');
    const typo = (d[0] === '1' ? '2' : '1') + d.slice(1);
    expect(checkRecoveryKey(sprinkle(typo, '\u200b'))).toMatchObject({ ok: false, reason: 'checksum' });
    for (const visible of ['O', '\u00b7', '*']) {
      const text = `${d.slice(0, 32)}${visible}${d.slice(32)}`;
      expect(checkRecoveryKey(text)).toEqual({ ok: false, reason: 'format' });
      expect(() => parseRecoveryKey(text)).toThrow(
        expect.objectContaining({ code: BackupErrorCode.RecoveryKeyFormat }),
      );
    }
  });
});
