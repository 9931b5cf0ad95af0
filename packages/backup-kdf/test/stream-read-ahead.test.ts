// Streaming restore keeps memory bounded: no operation that hands out a stream reads its source
// far ahead of what its consumer took (a 1 GiB backup never needs 1 GiB of memory, README). And a
// streamed file cut short or run on ends its stream in a typed error: never a silent short plaintext.
import {
  BackupErrorCode,
  BackupPayloadError,
  changeBackupPassword,
  noAttemptLimit,
  openBackup,
} from '@e2ee-kit/backup-kdf';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, concat, makeSet, PASSWORD, pattern } from './helpers.js';

/** 64 chunks of plaintext: a "large" file at test scale. */
const CHUNKS = 64;
const PIECE = 1000; // source pieces that do not line up with chunks
/**
 * How far a stream may read ahead of its consumer: the chunks in flight (4), the one being read
 * and its lookahead piece, and the header and slot section. Independent of the file's length.
 */
const AHEAD = 7 * (CHUNK + 16) + PIECE;

let set: Awaited<ReturnType<typeof makeSet>>;
let plain: Uint8Array;
let file: Uint8Array;
beforeAll(async () => {
  set = await makeSet();
  plain = pattern(CHUNKS * CHUNK + 123, 5, 9);
  file = await set.keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
});

/** `bytes` as an async source of `PIECE`-byte pieces that counts what was pulled from it. */
function counted(bytes: Uint8Array) {
  const source = {
    pulled: 0,
    async *[Symbol.asyncIterator]() {
      for (let o = 0; o < bytes.length; o += PIECE) {
        const piece = bytes.slice(o, o + PIECE);
        source.pulled += piece.length;
        yield piece;
      }
    },
  };
  return source;
}

/** Drains `out`, checking after every piece that `source` was not read more than `AHEAD` beyond it. */
async function drainChecking(
  out: AsyncIterable<Uint8Array>,
  source: { pulled: number },
  inputOf: (taken: number) => number,
) {
  let taken = 0;
  let worst = 0;
  const parts: Uint8Array[] = [];
  for await (const piece of out) {
    parts.push(piece);
    taken += piece.length;
    worst = Math.max(worst, source.pulled - inputOf(taken));
  }
  return { worst, out: concat(parts) };
}

/** Ciphertext bytes up to and including the chunk that holds plaintext byte `taken`. */
const cipherFor = (taken: number) => Math.ceil(taken / CHUNK) * (CHUNK + 16);

describe('streams read their source only a bounded distance ahead of their consumer', () => {
  it('openBackup: plaintext out', async () => {
    const source = counted(file);
    const { plaintext } = await openBackup(source, { password: PASSWORD }, { attempts: noAttemptLimit });
    const { worst, out } = await drainChecking(plaintext, source, cipherFor);
    expect(out).toEqual(plain);
    expect(source.pulled).toBe(file.length);
    expect(worst).toBeLessThanOrEqual(AHEAD);
  });

  it('keyring.encrypt: ciphertext out', async () => {
    const source = counted(plain);
    const { worst, out } = await drainChecking(
      set.keyring.encrypt(source, { chunkSize: CHUNK }),
      source,
      (taken) => Math.floor(taken / (CHUNK + 16)) * CHUNK,
    );
    expect(out.length).toBe(file.length);
    expect(worst).toBeLessThanOrEqual(AHEAD);
  });

  it('changeBackupPassword: the rewritten file out', async () => {
    const source = counted(file);
    const { output } = await changeBackupPassword(source, { password: PASSWORD }, 'a new long password', {
      attempts: noAttemptLimit,
      argon2: (await import('@e2ee-kit/backup-kdf/testing')).unsafeTestParams(),
    });
    const { worst, out } = await drainChecking(output, source, (taken) => taken);
    expect(out.length).toBe(file.length);
    expect(worst).toBeLessThanOrEqual(AHEAD);
  });
});

describe('a streamed file cut short or run on', () => {
  const open = async (bytes: Uint8Array) => {
    const { plaintext } = await openBackup(
      counted(bytes),
      { password: PASSWORD },
      { attempts: noAttemptLimit },
    );
    const parts: Uint8Array[] = [];
    try {
      for await (const p of plaintext) parts.push(p);
      return { released: concat(parts), error: undefined as unknown };
    } catch (error) {
      return { released: concat(parts), error };
    }
  };
  const payloadStart = () => file.length - CHUNKS * (CHUNK + 16) - (123 + 16);

  it('cut at every chunk boundary and inside chunks: a typed payload error, only whole chunks released', async () => {
    const start = payloadStart();
    const cuts: number[] = [];
    for (const c of [0, 1, 31, 63, CHUNKS]) {
      const at = start + c * (CHUNK + 16);
      cuts.push(at, at + 1, at + 17);
    }
    for (const cut of cuts) {
      const { released, error } = await open(file.subarray(0, cut));
      expect(error, `cut at ${cut}`).toBeInstanceOf(BackupPayloadError);
      expect([BackupErrorCode.Truncated, BackupErrorCode.ChunkInvalid], `cut at ${cut}`).toContain(
        (error as BackupPayloadError).code,
      );
      expect(released.length % CHUNK, `cut at ${cut}`).toBe(0);
      expect(released).toEqual(plain.subarray(0, released.length));
      expect(released.length).toBeLessThan(plain.length);
    }
  });

  it('a cut at a chunk boundary is BACKUP_TRUNCATED at the missing chunk', async () => {
    const at = payloadStart() + 10 * (CHUNK + 16);
    const { released, error } = await open(file.subarray(0, at));
    expect(error).toMatchObject({ code: BackupErrorCode.Truncated, position: 10 });
    expect(released).toEqual(plain.subarray(0, 9 * CHUNK));
  });

  it('an appended tail after the valid end is refused, and the final chunk is held back', async () => {
    // Up to 1 KiB after a short final chunk is named as such (README, errors table); more is still refused.
    for (const tail of [1, 16, 1000, CHUNK + 16, 3 * CHUNK]) {
      const { released, error } = await open(concat([file, new Uint8Array(tail).fill(1)]));
      expect(error, `tail ${tail}`).toBeInstanceOf(BackupPayloadError);
      if (tail <= 1024) {
        expect(error, `tail ${tail}`).toMatchObject({
          code: BackupErrorCode.TrailingData,
          position: CHUNKS + 1,
        });
      }
      expect(released).toEqual(plain.subarray(0, CHUNKS * CHUNK));
    }
  });
});
