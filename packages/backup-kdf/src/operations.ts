/**
 * The one-call entry points: create a backup and its first file, open, unlock, change a file's
 * password. Each is a `BackupKeyring` operation (backup.ts).
 */
import { BackupKeyring } from './backup.js';
import type {
  BackupMetadata,
  CreateBackupOptions,
  EncryptOptions,
  NewPasswordOptions,
  OpenOptions,
  UnlockWith,
} from './options.js';
import type { RecoveryKey } from './recovery-key.js';
import type { ByteSource, ByteStream } from './stream.js';

/**
 * Creates a backup set and encrypts its first file from `source`, streaming. Returns the keyring
 * (for more files of the set), the generated recovery key if asked for (show it once), and the output.
 */
export async function createBackup(
  source: ByteSource,
  options: CreateBackupOptions,
): Promise<{ keyring: BackupKeyring; recoveryKey: RecoveryKey | undefined; output: ByteStream }> {
  const { keyring, recoveryKey } = await BackupKeyring.create(options);
  const enc: EncryptOptions = {};
  if (options.suite !== undefined) enc.suite = options.suite;
  if (options.chunkSize !== undefined) enc.chunkSize = options.chunkSize;
  return { keyring, recoveryKey, output: keyring.encrypt(source, enc) };
}

/**
 * Opens a backup file: reads header and slots, unlocks (with attempt limiting), verifies header
 * and slots, and returns the plaintext as a stream. A chunk is released only after it
 * authenticated; an error ends the stream (truncation and trailing data are reported at the end,
 * so treat the output as valid only once the stream completed).
 */
export function openBackup(
  source: ByteSource,
  how: UnlockWith,
  options: OpenOptions = {},
): Promise<{ keyring: BackupKeyring; metadata: BackupMetadata; plaintext: ByteStream }> {
  return BackupKeyring.open(source, how, options);
}

/** Unlocks a backup file without decrypting its payload (reads only header and slots). */
export async function unlockBackup(
  source: ByteSource,
  how: UnlockWith,
  options: OpenOptions = {},
): Promise<BackupKeyring> {
  return BackupKeyring.unlockFile(source, how, options);
}

/**
 * Changes the password of a backup file in one streaming pass: unlock with the current password
 * or recovery key, re-wrap the data key under the new password, and write the same header, the new
 * slot section and the payload bytes unchanged. (An old copy of the file still opens with the old
 * password: after a suspected leak, create a new backup instead.)
 */
export async function changeBackupPassword(
  source: ByteSource,
  current: UnlockWith,
  newPassword: string,
  options: OpenOptions & NewPasswordOptions = {},
): Promise<{ keyring: BackupKeyring; output: ByteStream }> {
  return BackupKeyring.changePasswordOf(source, current, newPassword, options);
}
