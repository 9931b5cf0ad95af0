/**
 * Unlocking: which slots a secret may open, their KDF under the attempt policy, and the data key
 * once the file's slots and header authenticate under it.
 */
import { type CryptoProvider, copyBytes, KeyedMutex, LockedOutError, wipe } from '@e2ee-kit/core';
import { type Argon2Provider, argon2WorkCap } from './argon2.js';
import { type AttemptReservation, type AttemptState, defaultAttemptPolicy } from './attempts.js';
import { BackupErrorCode, BackupFormatError, IncorrectSecretError, NoMatchingSlotError } from './errors.js';
import type { FileHeader, SlotBody, SlotSection } from './format.js';
import {
  externalKek,
  passwordKek,
  recoveryKek,
  slotId,
  unwrapDek,
  verifySlotsAndHeader,
} from './key-hierarchy.js';
import { argon2MemoryCap, type OpenOptions, type UnlockWith } from './options.js';
import { ABSOLUTE_MIN_PASSWORD_LENGTH, passwordBytes } from './password.js';
import { parseRecoveryKey, RecoveryKey } from './recovery-key.js';

/** One guess at a time per scope in this realm (the attempt store's compare-and-set covers others). */
const unlockMutex = new KeyedMutex();

/**
 * The data key of a backup, from its decoded header and slot section and one secret: the slots that
 * kind of secret can open, each one's KDF under the attempt policy (a reserving policy charges the
 * guess first), and a success counted only once the slots and header authenticate under the key.
 * The caller owns the returned key (and wipes it).
 */
export async function unlockDataKey(
  header: FileHeader,
  section: SlotSection,
  how: UnlockWith,
  options: OpenOptions,
  p: CryptoProvider,
  argon2: Argon2Provider,
): Promise<Uint8Array> {
  if (how === null || typeof how !== 'object') throw new TypeError('unlock must be an object');
  // Refused before any KDF, and not counted: no backup has a shorter password. An unpaired
  // surrogate is let through (as U+FFFD): releases before its refusal made backups with one. The
  // bytes are ours: wiped once the unlock ended, however it ended.
  const pw = 'password' in how ? passwordBytes(how.password, ABSOLUTE_MIN_PASSWORD_LENGTH, true) : undefined;
  try {
    return await unlockWith(header, section, how, pw, options, p, argon2);
  } finally {
    if (pw) wipe(pw);
  }
}

/** `unlockDataKey` with the password (if that is the secret) normalized; `pw` is the caller's to wipe. */
async function unlockWith(
  header: FileHeader,
  section: SlotSection,
  how: UnlockWith,
  pw: Uint8Array | undefined,
  options: OpenOptions,
  p: CryptoProvider,
  argon2: Argon2Provider,
): Promise<Uint8Array> {
  const policy = options.attempts ?? defaultAttemptPolicy;

  let candidates: SlotBody[];
  let scope: string | undefined;
  let derive: (slot: SlotBody) => Promise<Uint8Array>;
  if (pw) {
    candidates = section.slots.filter((s) => s.type === 'password');
    const max = argon2MemoryCap(options.maxArgon2MemoryKiB);
    const maxWork = argon2WorkCap(options.maxArgon2Work, options.maxArgon2MemoryKiB, 'maxArgon2Work');
    for (const s of candidates) {
      if (s.type !== 'password') continue;
      if (s.params.memoryKiB > max) {
        throw new BackupFormatError(
          BackupErrorCode.ParameterOutOfRange,
          'backup asks for more Argon2 memory than allowed here (maxArgon2MemoryKiB)',
          'm_kib',
        );
      }
      // Within the memory cap, the passes are what make the work too much.
      if (s.params.memoryKiB * s.params.iterations > maxWork) {
        throw new BackupFormatError(
          BackupErrorCode.ParameterOutOfRange,
          'backup asks for more Argon2 work (memory × passes) than allowed here (maxArgon2Work)',
          't',
        );
      }
    }
    scope = 'password';
    derive = async (slot) => {
      if (slot.type !== 'password') throw new TypeError('unreachable');
      // A copy per derivation (a provider may consume its input), wiped after it.
      const copy = copyBytes(pw);
      try {
        return await passwordKek(p, argon2, copy, slot.salt, slot.params);
      } finally {
        wipe(copy);
      }
    };
  } else if ('recoveryKey' in how) {
    const key = typeof how.recoveryKey === 'string' ? parseRecoveryKey(how.recoveryKey) : how.recoveryKey;
    if (!RecoveryKey.isRecoveryKey(key)) throw new TypeError('recoveryKey must be a RecoveryKey or a string');
    candidates = section.slots.filter((s) => s.type === 'recovery' && s.format === key.format);
    scope = key.format === 'hex64' ? 'hex' : 'recovery';
    derive = async (slot) => {
      return recoveryKek(p, key, slot.salt);
    };
  } else if ('external' in how && typeof how.external === 'function') {
    candidates = section.slots.filter((s) => s.type === 'external');
    scope = undefined; // gated by whoever releases the secret
    derive = async (slot) => {
      if (slot.type !== 'external') throw new TypeError('unreachable');
      const secret = await how.external({ type: slot.typeByte, data: slot.data.slice() });
      if (secret === undefined) return new Uint8Array(0);
      if (!(secret instanceof Uint8Array)) throw new TypeError('external resolver must return a Uint8Array');
      return externalKek(p, secret, slot.salt);
    };
  } else {
    throw new TypeError('unlock needs password, recoveryKey or external');
  }
  if (candidates.length === 0)
    throw new NoMatchingSlotError('this backup has no slot for that kind of secret');

  const ids = scope === undefined ? [] : await Promise.all(candidates.map((s) => slotId(p, s)));
  const attempt = async (): Promise<Uint8Array> => {
    // A policy that reserves charges this guess before the KDF (see AttemptPolicy.reserve).
    let reservation: AttemptReservation | undefined;
    if (scope !== undefined && policy.reserve && policy.settle) {
      reservation = await policy.reserve(scope, ids);
      if (!reservation.allowed) throw new LockedOutError(lockedUntilOf(reservation.state));
    } else if (scope !== undefined) {
      const state = await policy.check(scope);
      if (state.lockedUntil !== undefined) throw new LockedOutError(state.lockedUntil);
    }
    let dek: Uint8Array | undefined;
    let opened = -1;
    let answered = false;
    try {
      for (let i = 0; i < candidates.length && !dek; i++) {
        const slot = candidates[i] as SlotBody;
        const kek = await derive(slot);
        answered = true;
        try {
          if (kek.length === 32) dek = await unwrapDek(p, kek, slot);
        } finally {
          wipe(kek);
        }
        if (dek) opened = i;
      }
    } catch (err) {
      // The KDF failed before any slot was tried (no WebAssembly, a provider error): nothing was
      // learnt, so the reservation is given back. Once one slot was tried it stands, and a guess
      // cut short by the app being killed stays counted too.
      if (reservation && !answered) await policy.settle?.(scope as string, reservation, undefined);
      throw err;
    }
    if (!dek) {
      if (scope === undefined) throw new IncorrectSecretError();
      // One failure, charged to the slots tried together: a copy of someone's slot beside one of
      // yours still counts, and 8 garbage slots do not make it 8 (LocalBackoffPolicy's chargedEntry).
      const state = reservation ? reservation.state : await policy.recordFailure(scope, ids);
      throw new IncorrectSecretError({
        remainingAttempts: state.remainingAttempts,
        lockedUntil: state.lockedUntil,
      });
    }
    try {
      await verifySlotsAndHeader(p, dek, header, section);
    } catch (err) {
      wipe(dek);
      // Tampering found after a correct secret is not an attempt: the reservation is given back
      // (if that write fails, the guess stays counted: the safe side; the tampering is the error).
      if (reservation) await policy.settle?.(scope as string, reservation, undefined).catch(() => {});
      throw err;
    }
    // Only now, with slots and header authenticated under the unwrapped key, is it a success —
    // and it clears only the failures charged to the slot that opened.
    if (scope !== undefined) {
      try {
        const slot = ids[opened] as string;
        if (reservation) await policy.settle?.(scope, reservation, slot);
        else await policy.recordSuccess(scope, slot);
      } catch (err) {
        wipe(dek);
        throw err;
      }
    }
    return dek;
  };
  return scope === undefined ? attempt() : unlockMutex.run(scope, attempt);
}

/** A refused reservation's lockout end (a custom policy that refuses without one: locked now). */
function lockedUntilOf(state: AttemptState): Date {
  return state.lockedUntil instanceof Date ? state.lockedUntil : new Date();
}
