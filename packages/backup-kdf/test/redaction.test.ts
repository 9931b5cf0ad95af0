// Issue 11.7: every exported class of backup-kdf (and backup-kdf/testing), built for real around a
// password and a recovery key, prints neither (nor the recovery key's secret bytes) under util.inspect,
// console.log, String(), template literals, toString or JSON, nor through any field or getter.
import * as backup from '@e2ee-kit/backup-kdf';
import {
  BackupKeyring,
  checkRecoveryKey,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  openBackup,
  type RecoveryKey,
} from '@e2ee-kit/backup-kdf';
import * as backupTesting from '@e2ee-kit/backup-kdf/testing';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describeRedaction } from '../../../tools/redaction.js';
import { recoveryKeySecret } from '../src/recovery-key.js';

const PASSWORD = 'redaction test password 7f3a9c';

async function build() {
  const { keyring, recoveryKey } = await BackupKeyring.create({
    password: PASSWORD,
    recoveryKey: true,
    argon2: unsafeTestParams(),
  });
  const plain = new TextEncoder().encode('the chat database, a secret too: 0123456789abcdef');
  const file = await keyring.encrypt([plain]).bytes();
  const opened = await openBackup(file, { password: PASSWORD });
  const attempts = new MemoryAttemptStore();
  await attempts.set('k', new Uint8Array(16).fill(1));
  const key = recoveryKey as RecoveryKey;
  const display = key.toDisplayString();
  // A typo of the key: checkRecoveryKey's suggestion carries the whole corrected key.
  const digits = display.replace(/\s/g, '');
  // About 1 typo in 1,500 has two valid single-digit corrections (no suggestion then): take the
  // first position whose typo has exactly one.
  const typoAt = (i: number) => `${digits.slice(0, i)}${(Number(digits[i]) + 1) % 10}${digits.slice(i + 1)}`;
  let check = checkRecoveryKey(typoAt(0));
  for (let i = 1; i < digits.length && (check.ok || !check.suggestion); i++)
    check = checkRecoveryKey(typoAt(i));
  if (check.ok || !check.suggestion) throw new Error('test setup: expected a suggestion');
  const objects: Record<string, object> = {
    BackupKeyring: keyring,
    'BackupKeyring (opened)': opened.keyring,
    RecoveryKey: key,
    ByteStream: opened.plaintext,
    'ByteStream (output)': keyring.encrypt([plain]),
    MemoryAttemptStore: attempts,
    LocalBackoffPolicy: new LocalBackoffPolicy({ store: attempts }),
    metadata: opened.metadata,
    'checkRecoveryKey result (typo)': check,
    'checkRecoveryKey result (valid)': checkRecoveryKey(display),
    RecoveryKeySuggestion: check.suggestion,
  };
  const secrets: Record<string, Uint8Array | string> = {
    password: PASSWORD,
    'recovery key (display)': display,
    'recovery key digits': display.replace(/\s/g, ''),
    'recovery key secret': recoveryKeySecret(key),
    plaintext: plain,
  };
  return { objects, secrets };
}

describeRedaction('backup-kdf: secrets never print', [backup, backupTesting], build, 60);
