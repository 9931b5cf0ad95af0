/** The checks `BackupKeyring.create` runs on its options, all before any KDF runs. */
import { wipe } from '@e2ee-kit/core';
import type { Argon2Params } from './argon2.js';
import { MAX_SLOTS } from './format.js';
import { type CreateKeyringOptions, copyExternal, type ExternalSlotInit, newSlotParams } from './options.js';
import { DEFAULT_MIN_PASSWORD_LENGTH, normalizePassword } from './password.js';
import { RecoveryKey } from './recovery-key.js';

/**
 * The normalized password, the password slot's parameters, the recovery key (generated if asked)
 * and copies of the external slots.
 */
export function checkCreateOptions(
  options: CreateKeyringOptions,
  randomBytes: (length: number) => Uint8Array,
): {
  pw: Uint8Array | undefined;
  params: Argon2Params;
  recoveryKey: RecoveryKey | undefined;
  external: Required<ExternalSlotInit>[];
} {
  const wantsKey = options.recoveryKey !== undefined && options.recoveryKey !== false;
  if (options.password === undefined && !wantsKey && !(options.external && options.external.length > 0)) {
    throw new TypeError('a backup needs at least one of password, recoveryKey, external');
  }
  const minLength = options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH;
  const pw = options.password === undefined ? undefined : normalizePassword(options.password, minLength);
  const external: Required<ExternalSlotInit>[] = [];
  try {
    const params = newSlotParams(options);
    let recoveryKey: RecoveryKey | undefined;
    if (options.recoveryKey === true) recoveryKey = RecoveryKey.generate(randomBytes);
    else if (RecoveryKey.isRecoveryKey(options.recoveryKey)) recoveryKey = options.recoveryKey;
    else if (wantsKey) throw new TypeError('recoveryKey must be a boolean or a RecoveryKey');
    for (const e of options.external ?? []) external.push(copyExternal(e));
    const count = (pw ? 1 : 0) + (recoveryKey ? 1 : 0) + external.length;
    if (count > MAX_SLOTS) throw new RangeError(`a backup has at most ${MAX_SLOTS} slots`);
    return { pw, params, recoveryKey, external };
  } catch (err) {
    // Refused: the copies made so far are ours to wipe (the caller's own bytes are untouched).
    if (pw) wipe(pw);
    for (const e of external) wipe(e.secret);
    throw err;
  }
}
