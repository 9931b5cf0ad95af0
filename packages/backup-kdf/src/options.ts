/**
 * The public options and shapes of backup-kdf's operations (what callers pass and get back), and the
 * checks of the two options validated before any KDF runs.
 */
import { type CryptoProvider, copyBytes } from '@e2ee-kit/core';
import {
  ARGON2_FORMAT_LIMITS,
  type Argon2Params,
  type Argon2Provider,
  argon2WorkCap,
  checkCreationParams,
  DEFAULT_ARGON2_PARAMS,
} from './argon2.js';
import type { AttemptPolicy } from './attempts.js';
import { MAX_EXTERNAL_DATA, type Suite } from './format.js';
import type { RecoveryKey } from './recovery-key.js';

/** An external slot at creation: `secret` comes from your server/HSM/enclave/OS keystore (≥ 16 bytes). */
export interface ExternalSlotInit {
  /** Slot type byte, 0x80…0xFF (yours to assign). */
  readonly type: number;
  /** Opaque data stored in clear in the slot (e.g. a server record id), ≤ 1024 bytes. */
  readonly data?: Uint8Array;
  readonly secret: Uint8Array;
}

/** Returns the secret for an external slot, or `undefined` to skip it. */
export type ExternalResolver = (slot: {
  readonly type: number;
  readonly data: Uint8Array;
}) => Promise<Uint8Array | undefined>;

/** How to unlock: a password, a recovery key (parsed or as typed), or an external secret resolver. */
export type UnlockWith =
  | { readonly password: string }
  | { readonly recoveryKey: RecoveryKey | string }
  | { readonly external: ExternalResolver };

export type SlotInfo =
  | { readonly type: 'password'; readonly argon2: Argon2Params }
  | { readonly type: 'recovery'; readonly format: 'digits64' | 'hex64' }
  | { readonly type: 'external'; readonly typeByte: number; readonly data: Uint8Array };

/** What a backup's header deliberately shows without any key. */
export interface BackupMetadata {
  readonly formatVersion: number;
  readonly suite: Suite;
  readonly chunkSize: number;
  /** Random id shared by the files of one backup set (it links them; nothing else). */
  readonly backupId: Uint8Array;
  readonly slots: readonly SlotInfo[];
}

export interface CryptoOptions {
  provider?: CryptoProvider;
  argon2Provider?: Argon2Provider;
}

/**
 * The caps on a password slot's Argon2 cost. Readers refuse slots above them before any KDF runs;
 * creation refuses parameters above them, so a backup is never made that its readers refuse by
 * default. A file made with a raised cap opens only where the reader raises it too.
 */
export interface Argon2Caps {
  /**
   * Highest Argon2 memory (default 256 MiB, `DEFAULT_MAX_ARGON2_MEMORY_KIB`: what the phone guidance
   * allows). Files made with more need this raised explicitly, up to the format's 1 GiB.
   */
  maxArgon2MemoryKiB?: number;
  /**
   * Highest Argon2 work m (KiB) × t (default `DEFAULT_MAX_ARGON2_WORK` = 64 MiB × 10 passes, what
   * the phone guidance allows; when `maxArgon2MemoryKiB` is given, that × 10). Up to the format's
   * 1 GiB × 10.
   */
  maxArgon2Work?: number;
}

export interface KeyringOptions extends CryptoOptions, Argon2Caps {
  /** Minimum password length in code points after NFKC (default 8, never below 6). */
  minPasswordLength?: number;
  /** Argon2id parameters for password slots (default m = 64 MiB, t = 3, p = 4; floor m = 19 MiB, t = 2, p = 1). */
  argon2?: Argon2Params;
}

export interface CreateKeyringOptions extends KeyringOptions {
  password?: string;
  /** `true` generates a 64-digit key (returned once: show it to the user); or pass one. */
  recoveryKey?: boolean | RecoveryKey;
  external?: readonly ExternalSlotInit[];
}

export interface EncryptOptions {
  /** Payload AEAD (default AES-256-GCM; ChaCha20-Poly1305 is faster in pure JavaScript, e.g. React Native). */
  suite?: Suite;
  /** Chunk size in bytes, a power of two from 4 KiB to 4 MiB (default 64 KiB). */
  chunkSize?: number;
}

export interface OpenOptions extends CryptoOptions, Argon2Caps {
  /** Attempt limiting (default: 5 strikes with escalating waits, in memory). */
  attempts?: AttemptPolicy;
}

/** What setting a new password takes (`changePassword`, `changeBackupPassword`). */
export type NewPasswordOptions = Pick<
  KeyringOptions,
  'minPasswordLength' | 'argon2' | 'maxArgon2MemoryKiB' | 'maxArgon2Work'
>;

/**
 * The reader's default Argon2 memory cap: 256 MiB, the most the phone guidance ever allows, so a
 * few hundred hostile bytes cannot make a phone allocate 1 GiB. Opt in to more per call.
 */
export const DEFAULT_MAX_ARGON2_MEMORY_KIB = 256 * 1024;

export interface CreateBackupOptions extends CreateKeyringOptions, EncryptOptions {}

/** `maxArgon2MemoryKiB` checked (default: `DEFAULT_MAX_ARGON2_MEMORY_KIB`). */
export function argon2MemoryCap(option: number | undefined): number {
  if (option === undefined) return DEFAULT_MAX_ARGON2_MEMORY_KIB;
  if (!Number.isInteger(option) || option < 0 || option > ARGON2_FORMAT_LIMITS.maxMemoryKiB) {
    throw new RangeError(
      `maxArgon2MemoryKiB must be an integer from 0 to ${ARGON2_FORMAT_LIMITS.maxMemoryKiB} (the format's cap)`,
    );
  }
  return option;
}

/**
 * The Argon2 parameters of a new password slot (default `DEFAULT_ARGON2_PARAMS`), checked before any
 * KDF runs: within the format, not below the floor, and within the caps readers apply (`RangeError`
 * naming the option that raises the cap).
 */
export function newSlotParams(options: Argon2Caps & { argon2?: Argon2Params | undefined }): Argon2Params {
  const p = checkCreationParams(options.argon2 ?? DEFAULT_ARGON2_PARAMS);
  const memoryCap = argon2MemoryCap(options.maxArgon2MemoryKiB);
  const workCap = argon2WorkCap(options.maxArgon2Work, options.maxArgon2MemoryKiB, 'maxArgon2Work');
  const over = (what: string, cap: number, option: string) =>
    new RangeError(
      `argon2 ${what} is above ${cap}, the most readers accept unless they raise ${option}: ` +
        `pass the same ${option} here and when opening`,
    );
  if (p.memoryKiB > memoryCap) throw over('memory (KiB)', memoryCap, 'maxArgon2MemoryKiB');
  if (p.memoryKiB * p.iterations > workCap) throw over('work m (KiB) × t', workCap, 'maxArgon2Work');
  return p;
}

/**
 * An external slot at creation, checked and copied when the call is made: its bytes are the
 * caller's (often a reused buffer), and they are read only once earlier slots' KDFs have run.
 */
export function copyExternal(e: ExternalSlotInit): Required<ExternalSlotInit> {
  checkExternal(e);
  return { type: e.type, data: copyBytes(e.data ?? new Uint8Array(0)), secret: copyBytes(e.secret) };
}

/** An external slot at creation, checked before any KDF runs. */
function checkExternal(e: ExternalSlotInit): void {
  if (e === null || typeof e !== 'object') throw new TypeError('external slot must be an object');
  if (!Number.isInteger(e.type) || e.type < 0x80 || e.type > 0xff)
    throw new RangeError('external slot type must be 0x80…0xFF');
  if (!(e.secret instanceof Uint8Array) || e.secret.length < 16)
    throw new RangeError('external secret must be ≥ 16 bytes');
  if (e.data !== undefined && (!(e.data instanceof Uint8Array) || e.data.length > MAX_EXTERNAL_DATA)) {
    throw new RangeError(`external slot data must be a Uint8Array of at most ${MAX_EXTERNAL_DATA} bytes`);
  }
}
