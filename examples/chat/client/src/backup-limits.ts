/**
 * What a downloaded backup may ask of this device. The relay stores the backup's slot section and
 * could hand back one demanding, say, 1 GiB of Argon2 memory and 100 passes: opening it would stall or
 * kill a phone or a browser tab before the password is even checked. The app never creates slots
 * above `MAX_BACKUP_ARGON2` (the package defaults, what the web client uses), so on restore anything
 * above it is refused before any key derivation runs.
 */
import { type Argon2Params, DEFAULT_ARGON2_PARAMS, readBackupMetadata } from '@e2ee-kit/backup-kdf';

/** The most this app ever creates: 64 MiB, 3 passes, 4 lanes. */
export const MAX_BACKUP_ARGON2: Argon2Params = DEFAULT_ARGON2_PARAMS;

/** A backup (or backup options) asking for more Argon2 work than this app creates or accepts. */
export class BackupLimitError extends Error {
  readonly code = 'backup_limit';
  constructor(
    /** Which parameter is over: `memoryKiB`, `iterations` or `parallelism`. */
    readonly parameter: keyof Argon2Params,
  ) {
    super(
      `this backup asks for more Argon2 ${parameter} than this app ever uses (at most ${MAX_BACKUP_ARGON2.memoryKiB / 1024} MiB, ${MAX_BACKUP_ARGON2.iterations} passes, ${MAX_BACKUP_ARGON2.parallelism} lanes); it was not made by this app and was not opened`,
    );
    this.name = 'BackupLimitError';
  }
}

/** The first parameter of `p` above the app's maximum, or undefined. */
export function argon2OverLimit(p: Argon2Params): keyof Argon2Params | undefined {
  for (const k of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    if (p[k] > MAX_BACKUP_ARGON2[k]) return k;
  }
  return undefined;
}

/** Throws `BackupLimitError` when options for a new backup ask for more than a restore accepts. */
export function checkBackupArgon2(p: Argon2Params | undefined): void {
  const over = p ? argon2OverLimit(p) : undefined;
  if (over) throw new BackupLimitError(over);
}

/** Reads the file's header (no key, no KDF) and throws `BackupLimitError` for any slot over the limit. */
export async function checkDownloadedBackup(file: Uint8Array): Promise<void> {
  const metadata = await readBackupMetadata(file);
  for (const slot of metadata.slots) {
    if (slot.type !== 'password') continue;
    const over = argon2OverLimit(slot.argon2);
    if (over) throw new BackupLimitError(over);
  }
}
