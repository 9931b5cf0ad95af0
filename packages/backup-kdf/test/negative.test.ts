// Every failure of issue 6 point 1, each with its own typed error, and nothing released from a
// chunk that did not authenticate.
import {
  BackupErrorCode,
  BackupFormatError,
  BackupKeyring,
  BackupPayloadError,
  BackupTamperedError,
  IncorrectSecretError,
  NoMatchingSlotError,
  noAttemptLimit,
  openBackup,
  RecoveryKey,
  readBackupMetadata,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import {
  type CryptoProvider,
  DecodeError,
  type E2eeError,
  VerificationError,
  WrongPasswordError,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { beforeAll, describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { CHUNK, concat, countingArgon2, layout, makeSet, openAll, PASSWORD } from './helpers.js';

let set: Awaited<ReturnType<typeof makeSet>>;
beforeAll(async () => {
  set = await makeSet();
});

function payloadError(err: unknown, code: string, position: number): BackupPayloadError {
  expect(err).toBeInstanceOf(BackupPayloadError);
  expect(err).toBeInstanceOf(VerificationError);
  const e = err as BackupPayloadError;
  expect(e.code).toBe(code);
  expect(e.position).toBe(position);
  return e;
}

/** Released bytes must be exactly the plaintext of the chunks before `position`. */
function releasedOnlyAuthenticated(released: Uint8Array, plain: Uint8Array, position: number) {
  expect(released).toEqual(plain.subarray(0, position * CHUNK));
}

function splice(file: Uint8Array, chunkOrder: number[]): Uint8Array {
  const l = layout(file, CHUNK);
  return concat([file.subarray(0, l.payloadStart), ...chunkOrder.map((i) => file.subarray(...l.chunks[i]!))]);
}

describe('payload: truncation, reordering, swaps, trailing bytes', () => {
  it('sanity: the untouched file opens with password and recovery key', async () => {
    expect((await openAll(set.fileA)).released).toEqual(set.plainA);
    expect((await openAll(set.fileA, { recoveryKey: set.recoveryKey })).released).toEqual(set.plainA);
    expect(layout(set.fileA, CHUNK).chunks).toHaveLength(6);
  });

  it('truncation at a chunk boundary (final chunk dropped) → BACKUP_TRUNCATED', async () => {
    const { released, error } = await openAll(splice(set.fileA, [0, 1, 2, 3, 4]));
    payloadError(error, BackupErrorCode.Truncated, 5);
    releasedOnlyAuthenticated(released, set.plainA, 4);
  });

  it('truncation after several chunks (only 2 of 6 left) → BACKUP_TRUNCATED', async () => {
    const { released, error } = await openAll(splice(set.fileA, [0, 1]));
    payloadError(error, BackupErrorCode.Truncated, 2);
    releasedOnlyAuthenticated(released, set.plainA, 1);
  });

  it('payload missing entirely (file cut right after the slot section) → BACKUP_TRUNCATED', async () => {
    const { error } = await openAll(splice(set.fileA, []));
    payloadError(error, BackupErrorCode.Truncated, 0);
  });

  it('truncation inside a chunk → BACKUP_CHUNK_INVALID, the partial chunk is not released', async () => {
    const l = layout(set.fileA, CHUNK);
    const cut = set.fileA.subarray(0, l.chunks[3]![0] + 1000);
    const { released, error } = await openAll(cut);
    payloadError(error, BackupErrorCode.ChunkInvalid, 3);
    releasedOnlyAuthenticated(released, set.plainA, 3);
  });

  it('two chunks swapped within a file → BACKUP_CHUNK_REORDERED (says where the chunk belongs)', async () => {
    const { released, error } = await openAll(splice(set.fileA, [0, 2, 1, 3, 4, 5]));
    const e = payloadError(error, BackupErrorCode.ChunkReordered, 1);
    expect(e.writtenAt).toBe(2);
    releasedOnlyAuthenticated(released, set.plainA, 1);
  });

  it('a full-size final chunk moved to the front → BACKUP_CHUNK_REORDERED', async () => {
    // (A short final chunk moved elsewhere shifts every chunk boundary after it: BACKUP_CHUNK_INVALID.)
    const file = await set.keyring.encrypt([new Uint8Array(4 * CHUNK).fill(9)], { chunkSize: CHUNK }).bytes();
    const { released, error } = await openAll(splice(file, [3, 0, 1, 2]));
    expect(payloadError(error, BackupErrorCode.ChunkReordered, 0).writtenAt).toBe(3);
    expect(released).toHaveLength(0);
  });

  it('a chunk dropped from the middle → BACKUP_CHUNK_REORDERED', async () => {
    const { released, error } = await openAll(splice(set.fileA, [0, 1, 3, 4, 5]));
    expect(payloadError(error, BackupErrorCode.ChunkReordered, 2).writtenAt).toBe(3);
    releasedOnlyAuthenticated(released, set.plainA, 2);
  });

  it('a chunk duplicated → BACKUP_CHUNK_REORDERED', async () => {
    const { error } = await openAll(splice(set.fileA, [0, 1, 1, 2, 3, 4, 5]));
    expect(payloadError(error, BackupErrorCode.ChunkReordered, 2).writtenAt).toBe(1);
  });

  it('a chunk swapped in from another file of the same set → BACKUP_CHUNK_INVALID', async () => {
    const la = layout(set.fileA, CHUNK);
    const lb = layout(set.fileB, CHUNK);
    const mixed = concat([
      set.fileA.subarray(0, la.chunks[1]![0]),
      set.fileB.subarray(...lb.chunks[1]!), // same position, same set, other file
      set.fileA.subarray(la.chunks[2]![0]),
    ]);
    const { released, error } = await openAll(mixed);
    payloadError(error, BackupErrorCode.ChunkInvalid, 1);
    releasedOnlyAuthenticated(released, set.plainA, 1);
  });

  it("another file's payload under this file's header and slots → BACKUP_CHUNK_INVALID at 0", async () => {
    const la = layout(set.fileA, CHUNK);
    const lb = layout(set.fileB, CHUNK);
    const mixed = concat([set.fileA.subarray(0, la.payloadStart), set.fileB.subarray(lb.payloadStart)]);
    const { released, error } = await openAll(mixed);
    payloadError(error, BackupErrorCode.ChunkInvalid, 0);
    expect(released).toHaveLength(0);
  });

  it('a flipped bit inside a chunk → BACKUP_CHUNK_INVALID, nothing of it released', async () => {
    const bad = set.fileA.slice();
    bad[layout(bad, CHUNK).chunks[4]![0] + 17]! ^= 0x01;
    const { released, error } = await openAll(bad);
    payloadError(error, BackupErrorCode.ChunkInvalid, 4);
    releasedOnlyAuthenticated(released, set.plainA, 4);
  });

  for (const extra of [1, 16, 1000]) {
    it(`${extra} trailing byte(s) after a short final chunk → BACKUP_TRAILING_DATA`, async () => {
      const { released, error } = await openAll(concat([set.fileA, new Uint8Array(extra).fill(0x5a)]));
      payloadError(error, BackupErrorCode.TrailingData, 6);
      releasedOnlyAuthenticated(released, set.plainA, 5);
    });
  }

  it('trailing bytes after a full-size final chunk (any amount) → BACKUP_TRAILING_DATA', async () => {
    const plain = new Uint8Array(2 * CHUNK).fill(3);
    const file = await set.keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
    for (const extra of [1, CHUNK + 16, 3 * CHUNK]) {
      const { released, error } = await openAll(concat([file, new Uint8Array(extra)]));
      payloadError(error, BackupErrorCode.TrailingData, 2);
      expect(released).toEqual(plain.subarray(0, CHUNK));
    }
  });

  it('a second backup appended to the first → BACKUP_TRAILING_DATA', async () => {
    const small = await set.keyring.encrypt([new Uint8Array(10)], { chunkSize: CHUNK }).bytes();
    const { error } = await openAll(concat([small, new Uint8Array(5)]));
    payloadError(error, BackupErrorCode.TrailingData, 1);
  });

  it('trailing bytes after an empty payload → BACKUP_TRAILING_DATA', async () => {
    const empty = await set.keyring.encrypt([], { chunkSize: CHUNK }).bytes();
    expect((await openAll(empty)).released).toHaveLength(0);
    const { error } = await openAll(concat([empty, Uint8Array.of(1, 2, 3)]));
    payloadError(error, BackupErrorCode.TrailingData, 1);
  });
});

describe('header and slot tampering', () => {
  const tamperedHeaderCases: Array<[string, number, number]> = [
    ['suite byte (AES-GCM → ChaCha20-Poly1305)', 9, 0x03],
    ['chunk size (64 KiB → 32 KiB, still in range)', 10, 0x1c],
    ['file nonce', 40, 0x80],
    ['header tag', 70, 0x01],
  ];
  for (const [what, offset, xor] of tamperedHeaderCases) {
    it(`${what} changed → BACKUP_HEADER_TAMPERED after a correct password, nothing released`, async () => {
      const bad = set.fileA.slice();
      bad[offset]! ^= xor;
      const { error } = await openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit }).then(
        () => ({ error: undefined }),
        (error: unknown) => ({ error }),
      );
      expect(error).toBeInstanceOf(BackupTamperedError);
      expect((error as E2eeError).code).toBe(BackupErrorCode.HeaderTampered);
    });
  }

  it('backup id changed → BACKUP_SLOTS_TAMPERED (the slots no longer belong to this header)', async () => {
    const bad = set.fileA.slice();
    bad[20]! ^= 0x01;
    await expect(openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit })).rejects.toMatchObject(
      {
        code: BackupErrorCode.SlotsTampered,
      },
    );
  });

  it('another slot modified (recovery wrap) → BACKUP_SLOTS_TAMPERED when opening with the password', async () => {
    const bad = set.fileA.slice();
    // slot section: count(1) ‖ password slot (3+74) ‖ recovery slot (3+65): flip a byte of the recovery wrap
    bad[92 + 1 + 77 + 3 + 30]! ^= 0x01;
    await expect(openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit })).rejects.toMatchObject(
      {
        code: BackupErrorCode.SlotsTampered,
      },
    );
  });

  it('the password slot modified → BACKUP_SLOTS_TAMPERED when opening with the recovery key', async () => {
    const bad = set.fileA.slice();
    bad[92 + 1 + 3 + 12]! ^= 0x01; // salt of the password slot
    await expect(
      openBackup(bad, { recoveryKey: set.recoveryKey }, { attempts: noAttemptLimit }),
    ).rejects.toMatchObject({ code: BackupErrorCode.SlotsTampered });
    // With the password itself, a changed salt yields a different key: indistinguishable from a
    // wrong password (documented); it is an IncorrectSecretError, never a success.
    await expect(
      openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit }),
    ).rejects.toBeInstanceOf(IncorrectSecretError);
  });

  it('a slot removed → BACKUP_SLOTS_TAMPERED', async () => {
    const l = layout(set.fileA, CHUNK);
    const slots = set.fileA.subarray(92, l.slotEnd);
    // keep only the recovery slot: count=1 ‖ recovery slot ‖ old MAC
    const recovery = slots.subarray(1 + 77, 1 + 77 + 68);
    const bad = concat([
      set.fileA.subarray(0, 92),
      Uint8Array.of(1),
      recovery,
      slots.subarray(slots.length - 32),
      set.fileA.subarray(l.slotEnd),
    ]);
    await expect(
      openBackup(bad, { recoveryKey: set.recoveryKey }, { attempts: noAttemptLimit }),
    ).rejects.toMatchObject({ code: BackupErrorCode.SlotsTampered });
  });

  it('slots MAC modified → BACKUP_SLOTS_TAMPERED', async () => {
    const bad = set.fileA.slice();
    bad[layout(bad, CHUNK).slotEnd - 1]! ^= 0x80;
    await expect(openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit })).rejects.toMatchObject(
      {
        code: BackupErrorCode.SlotsTampered,
      },
    );
  });

  it('slot section of another backup set (same password) → BACKUP_SLOTS_TAMPERED', async () => {
    const other = await makeSet();
    const la = layout(set.fileA, CHUNK);
    const lo = layout(other.fileA, CHUNK);
    const bad = concat([
      set.fileA.subarray(0, 92),
      other.fileA.subarray(92, lo.slotEnd),
      set.fileA.subarray(la.slotEnd),
    ]);
    await expect(openBackup(bad, { password: PASSWORD }, { attempts: noAttemptLimit })).rejects.toMatchObject(
      {
        code: BackupErrorCode.SlotsTampered,
      },
    );
  });

  it('wrong password → IncorrectSecretError (WRONG_PASSWORD, a core WrongPasswordError)', async () => {
    const err = await openBackup(
      set.fileA,
      { password: 'not the password' },
      { attempts: noAttemptLimit },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IncorrectSecretError);
    expect(err).toBeInstanceOf(WrongPasswordError);
    expect((err as E2eeError).code).toBe('WRONG_PASSWORD');
  });

  it('no slot for that kind of secret → NoMatchingSlotError', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const key = RecoveryKey.generate((n) => new Uint8Array(n).fill(7));
    await expect(openBackup(file, { recoveryKey: key }, { attempts: noAttemptLimit })).rejects.toBeInstanceOf(
      NoMatchingSlotError,
    );
  });
});

describe('out-of-range parameters: refused by the decoder before any KDF runs', () => {
  // password slot body starts at 92 + 1 + 3 = 96: kdf(96) m(97..100) t(101..104) p(105)
  const put32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(o, v);
  const cases: Array<[string, (b: Uint8Array) => void, string, string | undefined]> = [
    ['magic', (b) => (b[3] = 0x47), BackupErrorCode.BadMagic, undefined],
    ['format version 2', (b) => (b[8] = 2), BackupErrorCode.UnsupportedVersion, 'format_version'],
    ['suite 3', (b) => (b[9] = 3), BackupErrorCode.ParameterOutOfRange, 'suite'],
    ['chunk_log2 11', (b) => (b[10] = 11), BackupErrorCode.ParameterOutOfRange, 'chunk_log2'],
    ['chunk_log2 23', (b) => (b[10] = 23), BackupErrorCode.ParameterOutOfRange, 'chunk_log2'],
    ['flags', (b) => (b[11] = 1), BackupErrorCode.ParameterOutOfRange, 'flags'],
    ['slot_count 0', (b) => (b[92] = 0), BackupErrorCode.ParameterOutOfRange, 'slot_count'],
    ['slot_count 9', (b) => (b[92] = 9), BackupErrorCode.ParameterOutOfRange, 'slot_count'],
    ['kdf id 2', (b) => (b[96] = 2), BackupErrorCode.ParameterOutOfRange, 'kdf'],
    ['m = 1 GiB + 1 KiB', (b) => put32(b, 97, 1024 * 1024 + 1), BackupErrorCode.ParameterOutOfRange, 'm_kib'],
    ['m = 4 GiB - 1 KiB', (b) => put32(b, 97, 0xffffffff), BackupErrorCode.ParameterOutOfRange, 'm_kib'],
    ['m < 8·p', (b) => put32(b, 97, 7), BackupErrorCode.ParameterOutOfRange, 'm_kib'],
    ['t = 0', (b) => put32(b, 101, 0), BackupErrorCode.ParameterOutOfRange, 't'],
    ['t = 11', (b) => put32(b, 101, 11), BackupErrorCode.ParameterOutOfRange, 't'],
    ['t = 2^32 - 1', (b) => put32(b, 101, 0xffffffff), BackupErrorCode.ParameterOutOfRange, 't'],
    ['p = 0', (b) => (b[105] = 0), BackupErrorCode.ParameterOutOfRange, 'p'],
    ['p = 17', (b) => (b[105] = 17), BackupErrorCode.ParameterOutOfRange, 'p'],
    [
      'recovery key format 3',
      (b) => (b[92 + 1 + 77 + 3] = 3),
      BackupErrorCode.ParameterOutOfRange,
      'recovery_format',
    ],
    ['unknown slot type 0x03', (b) => (b[93] = 0x03), BackupErrorCode.ParameterOutOfRange, 'slot_type'],
    ['slot length wrong', (b) => (b[95] = 73), BackupErrorCode.Malformed, 'slot'],
    ['two password slots', (b) => (b[92 + 1 + 77] = 0x01), BackupErrorCode.Malformed, 'slot'],
  ];
  for (const [what, mutate, code, field] of cases) {
    it(`${what} → ${code}${field ? ` (${field})` : ''}`, async () => {
      const bad = set.fileA.slice();
      mutate(bad);
      const argon2Provider = countingArgon2();
      const err = await openBackup(
        bad,
        { password: PASSWORD },
        { attempts: noAttemptLimit, argon2Provider },
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackupFormatError);
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as BackupFormatError).code).toBe(code);
      expect((err as BackupFormatError).field).toBe(field);
      expect(argon2Provider.calls).toBe(0);
      await expect(readBackupMetadata(bad)).rejects.toMatchObject({ code });
    });
  }

  it('m above the opener’s own limit (maxArgon2MemoryKiB) → BACKUP_PARAM_OUT_OF_RANGE before the KDF', async () => {
    const argon2Provider = countingArgon2();
    const err = await openBackup(
      set.fileA,
      { password: PASSWORD },
      { attempts: noAttemptLimit, argon2Provider, maxArgon2MemoryKiB: 4 },
    ).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: BackupErrorCode.ParameterOutOfRange, field: 'm_kib' });
    expect(argon2Provider.calls).toBe(0);
  });

  it('truncated header and slot section → BACKUP_MALFORMED', async () => {
    for (const n of [0, 5, 8, 9, 50, 91, 92, 93, 100, 200]) {
      const err = await readBackupMetadata(set.fileA.subarray(0, n)).catch((e: unknown) => e);
      expect(err, String(n)).toBeInstanceOf(BackupFormatError);
      expect((err as E2eeError).code, String(n)).toBe(BackupErrorCode.Malformed);
    }
  });

  it('a slot section longer than the format allows → BACKUP_MALFORMED, read no further than that cap', async () => {
    // A slot declaring 65 535 bytes (the decoder would refuse it): a reader that compares the
    // section's length with the cap only once it knows the whole length first buffers all of it.
    const head = set.fileA.slice(0, 92);
    let pulled = 0;
    async function* source() {
      for (const piece of [head, Uint8Array.of(8, 0x80, 0xff, 0xff)]) {
        pulled += piece.length;
        yield piece;
      }
      for (;;) {
        pulled += 1024;
        yield new Uint8Array(1024);
      }
    }
    const err = await readBackupMetadata(source()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFormatError);
    expect(err).toMatchObject({ code: BackupErrorCode.Malformed, field: 'slots' });
    // 1 + 8 × (3 + 64 + 1024) + 32 bytes is the largest valid slot section; one more piece at most.
    expect(pulled).toBeLessThanOrEqual(92 + 4 + 1 + 8 * (3 + 64 + 1024) + 32 + 1024);
  });

  it('each failure class has its own code', () => {
    const codes = Object.values(BackupErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
  });
});

describe('payload failures are the same on every crypto provider', () => {
  for (const { label, provider } of allProviders) {
    it(`${label}: truncation, reordering, cross-file swap, trailing bytes, bit flip`, async () => {
      const { keyring } = await BackupKeyring.create({
        password: PASSWORD,
        argon2: unsafeTestParams(),
        provider,
      });
      const plain = new Uint8Array(3 * CHUNK + 5).fill(1);
      const a = await keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
      const b = await keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
      const la = layout(a, CHUNK);
      const lb = layout(b, CHUNK);
      const open = (file: Uint8Array) => openAll(file, { password: PASSWORD }, { provider });
      expect((await open(a)).released).toEqual(plain);
      payloadError((await open(splice(a, [0, 1, 2]))).error, BackupErrorCode.Truncated, 3);
      payloadError((await open(splice(a, [1, 0, 2, 3]))).error, BackupErrorCode.ChunkReordered, 0);
      const swapped = concat([
        a.subarray(0, la.chunks[2]![0]),
        b.subarray(...lb.chunks[2]!),
        a.subarray(la.chunks[3]![0]),
      ]);
      payloadError((await open(swapped)).error, BackupErrorCode.ChunkInvalid, 2);
      payloadError((await open(concat([a, Uint8Array.of(0)]))).error, BackupErrorCode.TrailingData, 4);
      const flipped = a.slice();
      flipped[la.chunks[1]![0]]! ^= 0x40;
      payloadError((await open(flipped)).error, BackupErrorCode.ChunkInvalid, 1);
    });
  }
});

describe('default attempt policy', () => {
  it('is on when no policy is passed: the 6th try after 5 wrong passwords is locked out', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const file = await keyring.encrypt([new Uint8Array(1)]).bytes();
    for (let i = 0; i < 5; i++) {
      await expect(openBackup(file, { password: 'wrong password' })).rejects.toBeInstanceOf(
        IncorrectSecretError,
      );
    }
    await expect(openBackup(file, { password: PASSWORD })).rejects.toMatchObject({ code: 'LOCKED_OUT' });
  });
});

/** `inner` with its AES-GCM decryptions counted (bytes in), for work-budget checks. */
function countingDecrypts(inner: CryptoProvider): { provider: CryptoProvider; bytes: () => number } {
  let bytes = 0;
  const provider: CryptoProvider = {
    ...inner,
    name: `${inner.name}+counting`,
    aes256GcmDecrypt: (key, nonce, sealed, aad) => {
      bytes += sealed.length;
      return inner.aes256GcmDecrypt(key, nonce, sealed, aad);
    },
  };
  return { provider, bytes: () => bytes };
}

/** Resolves once `read()` has stopped changing for `quietMs` (work left running in the background). */
async function settled(read: () => number, quietMs = 300): Promise<number> {
  for (let last = -1; ; ) {
    await new Promise((r) => setTimeout(r, quietMs));
    if (read() === last) return last;
    last = read();
  }
}

describe('diagnosis with large chunks stays within its budget and still names the failure', () => {
  it('several damaged chunks in flight: only the first (in file order) is diagnosed, once', async () => {
    // With 64 KiB chunks each reordering search may spend its whole 64 MiB; four damaged chunks
    // in the pipeline each ran one, still decrypting after the error had been delivered.
    const size = 1 << 16;
    const plain = new Uint8Array(10 * size + 5).fill(3);
    const file = await set.keyring.encrypt([plain], { chunkSize: size }).bytes();
    const l = layout(file, size);
    const bad = file.slice();
    for (const i of [1, 2, 3, 4]) bad[l.chunks[i]![0] + 20]! ^= 1;
    const counted = countingDecrypts(nodeProvider);
    const { error, released } = await openAll(bad, { password: PASSWORD }, { provider: counted.provider });
    payloadError(error, BackupErrorCode.ChunkInvalid, 1);
    expect(released).toEqual(plain.subarray(0, size));
    const spent = await settled(counted.bytes);
    // Chunk 1's search (positions 0 and 2…256, two flags each: ≈ 32 MiB; 135 MiB when each of the
    // four ran its own), within the 64 MiB budget with the chunks read before the error.
    expect(spent).toBeGreaterThan(30 * 2 ** 20);
    expect(spent).toBeLessThanOrEqual(64 * 2 ** 20 + 8 * (size + 16));
  });

  it('1 MiB chunks: adjacent swap → REORDERED, 1 trailing byte → TRAILING_DATA, garbage tail → CHUNK_INVALID', async () => {
    const big = 1 << 20;
    const plain = new Uint8Array(3 * big + 10).fill(7);
    const file = await set.keyring.encrypt([plain], { chunkSize: big }).bytes();
    const l = layout(file, big);
    const order = (o: number[]) =>
      concat([file.subarray(0, l.payloadStart), ...o.map((i) => file.subarray(...l.chunks[i]!))]);
    expect((await openAll(file)).released).toEqual(plain);
    payloadError((await openAll(order([1, 0, 2, 3]))).error, BackupErrorCode.ChunkReordered, 0);
    payloadError((await openAll(concat([file, Uint8Array.of(1)]))).error, BackupErrorCode.TrailingData, 4);
    // 2 KiB of garbage after a short final chunk is beyond the trailing search: still detected
    payloadError(
      (await openAll(concat([file, new Uint8Array(2048)]))).error,
      BackupErrorCode.ChunkInvalid,
      3,
    );
  });
});
