// Test helpers (not part of the package).
export function pattern(length: number, mul = 7, add = 3): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * mul + add) & 0xff;
  return out;
}

export async function collect(
  it: AsyncIterable<Uint8Array>,
): Promise<{ chunks: Uint8Array[]; error: unknown }> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const c of it) chunks.push(c);
    return { chunks, error: undefined };
  } catch (error) {
    return { chunks, error };
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Offsets of a v1 file: header 92 bytes, then the slot section, then chunks of `chunkSize + 16`. */
export function layout(file: Uint8Array, chunkSize: number) {
  const count = file[92]!;
  let o = 93;
  for (let i = 0; i < count; i++) o += 3 + ((file[o + 1]! << 8) | file[o + 2]!);
  const payloadStart = o + 32;
  const chunks: Array<[number, number]> = [];
  for (let s = payloadStart; s < file.length; s += chunkSize + 16) {
    chunks.push([s, Math.min(file.length, s + chunkSize + 16)]);
  }
  return { slotStart: 92, slotEnd: payloadStart, payloadStart, chunks };
}

import {
  type Argon2Provider,
  BackupKeyring,
  hashWasmArgon2Provider,
  LocalBackoffPolicy,
  MemoryAttemptStore,
  noAttemptLimit,
  type OpenOptions,
  openBackup,
  type RecoveryKey,
  type UnlockWith,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { dekFromRecoverySlot } from './forge.js';

export const PASSWORD = 'correct horse battery staple';
export const CHUNK = 4096;

/** An Argon2 provider that counts its calls (to prove checks happen before any KDF runs). */
export function countingArgon2(
  inner: Argon2Provider = hashWasmArgon2Provider,
): Argon2Provider & { calls: number } {
  const p = {
    name: 'counting',
    supportsAssociatedData: inner.supportsAssociatedData,
    calls: 0,
    argon2id(input: Parameters<Argon2Provider['argon2id']>[0]) {
      p.calls++;
      return inner.argon2id(input);
    },
  };
  return p;
}

/** Never allocates: returns a fixed output, so a test can show the KDF *would* have run. */
export function fixedArgon2(): Argon2Provider & { calls: number } {
  const p = {
    name: 'fixed',
    supportsAssociatedData: false,
    calls: 0,
    async argon2id() {
      p.calls++;
      return new Uint8Array(32);
    },
  };
  return p;
}

/** A backup set with a password and a recovery key, and two files of 6 and 3 chunks (4 KiB chunks). */
export async function makeSet(): Promise<{
  keyring: BackupKeyring;
  recoveryKey: RecoveryKey;
  plainA: Uint8Array;
  plainB: Uint8Array;
  fileA: Uint8Array;
  fileB: Uint8Array;
}> {
  const { keyring, recoveryKey } = await BackupKeyring.create({
    password: PASSWORD,
    recoveryKey: true,
    argon2: unsafeTestParams(),
  });
  const plainA = pattern(5 * CHUNK + 100, 7, 3);
  const plainB = pattern(2 * CHUNK + 50, 11, 5);
  const fileA = await keyring.encrypt([plainA], { chunkSize: CHUNK }).bytes();
  const fileB = await keyring.encrypt([plainB], { chunkSize: CHUNK }).bytes();
  return { keyring, recoveryKey: recoveryKey!, plainA, plainB, fileA, fileB };
}

/**
 * A victim's backup set and an attacker's own (they know its password and key), with the data key
 * the attacker recovers from their own recovery slot (`forge.ts`) to forge files that authenticate.
 */
export async function victimAndAttacker() {
  const victim = await makeSet();
  const attacker = await makeSet();
  const attackerDek = dekFromRecoverySlot(attacker.fileA, attacker.recoveryKey.toDisplayString());
  return { victim, attacker, attackerDek };
}

/**
 * A `LocalBackoffPolicy` over a fresh memory store at a clock the test moves (`advance`), an Argon2
 * provider that counts its runs, and `tryUnlock`: an unlock through both that never throws.
 */
export function policyBench(maxFailures = 5) {
  let now = Date.UTC(2026, 0, 1);
  const attempts = new LocalBackoffPolicy({ store: new MemoryAttemptStore(), maxFailures, now: () => now });
  const argon2Provider = countingArgon2();
  const tryUnlock = (file: Uint8Array, how: UnlockWith) =>
    unlockBackup(file, how, { attempts, argon2Provider }).then(
      (k) => {
        k.destroy();
        return { ok: true as const, err: undefined as unknown };
      },
      (err: unknown) => ({ ok: false as const, err }),
    );
  return {
    attempts,
    argon2Provider,
    advance: (ms: number) => {
      now += ms;
    },
    tryUnlock,
    failures: async (scope = 'password') => (await attempts.check(scope)).failures,
  };
}

/** Opens and drains; returns what was released before the error (if any). */
export async function openAll(
  file: Uint8Array,
  how: UnlockWith = { password: PASSWORD },
  options: OpenOptions = {},
) {
  const { plaintext } = await openBackup(file, how, { attempts: noAttemptLimit, ...options });
  const { chunks, error } = await collect(plaintext);
  return { released: concat(chunks), error };
}
