/**
 * A file's payload: its chunks sealed or opened under the file's payload key, several in flight at
 * once and released in order; a chunk that does not authenticate is diagnosed (truncation, trailing
 * bytes, reordering, damage) within a fixed budget of AEAD work.
 */
import { type CryptoProvider, type E2eeError, VerificationError, wipe } from '@e2ee-kit/core';
import { BackupErrorCode, BackupFormatError, BackupPayloadError } from './errors.js';
import {
  chunkNonce,
  DEFAULT_CHUNK_LOG2,
  type FileHeader,
  MAX_CHUNK_LOG2,
  MIN_CHUNK_LOG2,
  type Suite,
} from './format.js';
import type { ByteReader } from './stream.js';

/** Chunks in flight at once while encrypting or decrypting (keeps a thread-pooled AEAD busy). */
const PIPELINE_DEPTH = 4;
/** How far (in chunk positions) a failing chunk is searched for, to report reordering precisely. */
const REORDER_SEARCH_WINDOW = 256;
/**
 * Bytes of AEAD work each search of a diagnosis may spend (one diagnosis per file: see `open`), so
 * that damage to a file with large chunks cannot make the error path run for minutes.
 */
const DIAGNOSIS_BUDGET_BYTES = 64 * 1024 * 1024;
/**
 * Extra bytes after a short final chunk merge into the last read; up to this many are told apart
 * from a damaged chunk (after a full-size final chunk, any amount is).
 */
const TRAILING_SEARCH_BYTES = 1024;

/** The payload AEAD of a suite, in one direction (every provider appends a 16-byte tag). */
function chunkAead(p: CryptoProvider, suite: Suite, direction: 'seal' | 'open') {
  if (suite === 'aes-256-gcm') return direction === 'seal' ? p.aes256GcmEncrypt : p.aes256GcmDecrypt;
  return direction === 'seal' ? p.chacha20Poly1305Encrypt : p.chacha20Poly1305Decrypt;
}

const invalidChunk = (index: number) =>
  new BackupPayloadError(
    BackupErrorCode.ChunkInvalid,
    'backup chunk does not authenticate (modified, cut short, or from another file)',
    index,
  );

/** What the read after a chunk found: how many bytes, and whether any follow. */
interface NextRead {
  readonly length: number;
  readonly more: boolean;
}

/** `EncryptOptions.chunkSize` as the format's log2 (default 64 KiB). */
export function chunkLog2Of(chunkSize: number | undefined): number {
  if (chunkSize === undefined) return DEFAULT_CHUNK_LOG2;
  const log2 = Math.log2(chunkSize);
  if (!Number.isInteger(log2) || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) {
    throw new RangeError('chunkSize must be a power of two from 4096 to 4194304');
  }
  return log2;
}

/**
 * Runs up to `PIPELINE_DEPTH` chunk jobs at once and yields their results in order. A failed job
 * is surfaced when its turn comes, so a later chunk never overtakes an earlier failure.
 */
async function* inOrder(
  next: (index: number) => Promise<{ job: Promise<Uint8Array>; last: boolean }>,
): AsyncGenerator<Uint8Array> {
  const inflight: Promise<Uint8Array>[] = [];
  for (let index = 0; ; index++) {
    const { job, last } = await next(index);
    job.catch(() => {}); // handled when awaited below
    inflight.push(job);
    if (last) break;
    if (inflight.length >= PIPELINE_DEPTH) yield await inflight.shift()!;
  }
  while (inflight.length > 0) yield await inflight.shift()!;
}

/**
 * Chunk-sized input buffers, reused once the AEAD call that read one has finished (allocating a
 * fresh 64 KiB array per chunk costs more than the copy into it). A buffer whose bytes come back
 * as part of the result (a provider working in place) is the consumer's from then on: never reused,
 * never zeroed (that would destroy output already handed out), and no longer held here (else a
 * stream would keep every chunk of the file alive until it ends).
 */
class BufferPool {
  readonly #free: Uint8Array[] = [];
  /** Every buffer handed out that may still hold our plaintext (zeroed by `wipe`). */
  readonly #ours = new Set<Uint8Array>();
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  take(): Uint8Array {
    const b = this.#free.pop();
    if (b) return b;
    const fresh = new Uint8Array(this.#size);
    this.#ours.add(fresh);
    return fresh;
  }
  recycleAfter(buf: Uint8Array, job: Promise<Uint8Array>): void {
    job.then(
      (out) => {
        if (out.buffer !== buf.buffer) this.#free.push(buf);
        else this.#ours.delete(buf);
      },
      () => {},
    );
  }
  /** Zeroes every buffer still ours (they held plaintext). */
  wipe(): void {
    for (const b of this.#ours) b.fill(0);
  }
}

/**
 * The chunks of one file, read from `reader` and sealed under its payload `key` (derived by the
 * caller before the file's first byte, see `BackupKeyring.encrypt`; wiped here when done), with the
 * SHA-256 of the file's `header` as associated data.
 */
export async function* sealPayload(
  p: CryptoProvider,
  key: Uint8Array,
  reader: ByteReader,
  header: Uint8Array,
  suite: Suite,
  chunkLog2: number,
): AsyncGenerator<Uint8Array> {
  const aad = await p.sha256(header);
  const size = 2 ** chunkLog2;
  const seal = chunkAead(p, suite, 'seal');
  const pool = new BufferPool(size);
  // In `finally`: a consumer that stops early (a cancelled upload) or an error ends the generator
  // at its `yield`, and the key and the plaintext buffers must be wiped then too.
  try {
    yield* inOrder(async (index) => {
      const buf = pool.take();
      const { length, more } = await reader.readIntoWithLookahead(buf);
      const job = seal.call(p, key, chunkNonce(index, !more), buf.subarray(0, length), aad);
      pool.recycleAfter(buf, job);
      return { job, last: !more };
    });
  } finally {
    pool.wipe();
    wipe(key);
  }
}

/**
 * The plaintext chunks of one file whose header and slots were verified, each released once it
 * authenticated, opened under its payload `key` (derived by the caller from its copy of the data key,
 * see `BackupKeyring.decrypt`; wiped when done).
 */
export async function* openPayload(
  p: CryptoProvider,
  key: Uint8Array,
  reader: ByteReader,
  header: FileHeader,
): AsyncGenerator<Uint8Array> {
  const { suite } = header;
  const aad = await p.sha256(header.bytes);
  const full = 2 ** header.chunkLog2 + 16;
  const openChunk = chunkAead(p, suite, 'open');
  const tryOpen = async (data: Uint8Array, index: number, final: boolean): Promise<boolean> => {
    try {
      wipe(await openChunk.call(p, key, chunkNonce(index, final), data, aad));
      return true;
    } catch (err) {
      if (err instanceof VerificationError) return false;
      throw err;
    }
  };
  const invalid = invalidChunk;
  const diagnose = async (
    data: Uint8Array,
    index: number,
    atEnd: boolean,
    following: Promise<NextRead> | undefined,
  ): Promise<E2eeError> => {
    if (data.length === 0) {
      return new BackupPayloadError(BackupErrorCode.Truncated, 'backup payload is missing', index);
    }
    if (await tryOpen(data, index, !atEnd)) {
      return atEnd
        ? new BackupPayloadError(BackupErrorCode.Truncated, 'backup ends before its final chunk', index + 1)
        : new BackupPayloadError(BackupErrorCode.TrailingData, 'bytes follow the final chunk', index + 1);
    }
    // A short final chunk followed by a few extra bytes: find where the final chunk ends. The extra
    // bytes merge into this read, or (a final chunk close to full size) run past it into one short
    // last read: then at most TRAILING_SEARCH_BYTES in all, those of that read included.
    const next = atEnd ? undefined : await following;
    const spilled = next === undefined ? 0 : next.more ? TRAILING_SEARCH_BYTES : next.length;
    if (atEnd || spilled < TRAILING_SEARCH_BYTES) {
      const tries = Math.min(
        TRAILING_SEARCH_BYTES - spilled,
        Math.floor(DIAGNOSIS_BUDGET_BYTES / data.length),
      );
      for (let len = data.length - 1; len >= Math.max(16, data.length - tries); len--) {
        if (await tryOpen(data.subarray(0, len), index, true)) {
          return new BackupPayloadError(
            BackupErrorCode.TrailingData,
            'bytes follow the final chunk',
            index + 1,
          );
        }
      }
    }
    if (data.length >= 16) {
      // 4 decryptions per distance (two positions, two flags)
      const window = Math.min(REORDER_SEARCH_WINDOW, Math.floor(DIAGNOSIS_BUDGET_BYTES / (4 * data.length)));
      for (let d = 1; d <= window; d++) {
        for (const j of [index + d, index - d]) {
          if (j < 0) continue;
          if ((await tryOpen(data, j, false)) || (await tryOpen(data, j, true))) {
            return new BackupPayloadError(
              BackupErrorCode.ChunkReordered,
              'backup chunks are out of order (moved, duplicated or dropped)',
              index,
              j,
            );
          }
        }
      }
    }
    return invalid(index);
  };
  const open = async (
    data: Uint8Array,
    index: number,
    atEnd: boolean,
    before: Promise<unknown>,
    following: Promise<NextRead> | undefined,
  ): Promise<Uint8Array> => {
    let plain: Uint8Array;
    try {
      plain = await openChunk.call(p, key, chunkNonce(index, atEnd), data, aad);
    } catch (err) {
      if (!(err instanceof VerificationError)) throw err;
      // Only the first failing chunk in file order is ever reported: a later one in flight waits
      // for the chunk before it and, if that failed, skips its diagnosis. Else every damaged chunk
      // in the pipeline spent a whole budget, still running after the error was delivered.
      const earlierFailed = await before.then(
        () => false,
        () => true,
      );
      throw earlierFailed ? invalid(index) : await diagnose(data, index, atEnd, following);
    }
    if (atEnd && index > 0 && plain.length === 0) {
      throw new BackupFormatError(BackupErrorCode.Malformed, 'empty final chunk after other chunks', 'chunk');
    }
    return plain;
  };
  const pool = new BufferPool(full);
  let previous: Promise<unknown> = Promise.resolve();
  // Tells the chunk read before what the read after it found (its diagnosis may need it). Every
  // read but the last is followed by another before its chunk is awaited (see `inOrder`).
  let announce: ((next: NextRead) => void) | undefined;
  try {
    yield* inOrder(async (index) => {
      const buf = pool.take();
      const { length, more } = await reader.readIntoWithLookahead(buf);
      announce?.({ length, more });
      let following: Promise<NextRead> | undefined;
      announce = undefined;
      if (more) following = new Promise<NextRead>((resolve) => (announce = resolve));
      const job = open(buf.subarray(0, length), index, !more, previous, following);
      previous = job;
      pool.recycleAfter(buf, job);
      return { job, last: !more };
    });
  } finally {
    wipe(key); // also when the consumer stops early or a chunk fails (see sealPayload)
  }
}

/**
 * The payload bytes of a verified file, copied unchanged (`rewriteSlots`, `changeBackupPassword`),
 * with its last chunk checked under the payload `key` (wiped when done): a source that ends early
 * or runs on would otherwise give a copy that completes and is just as broken — and an app finishing
 * a password change replaces the good file with it. One AEAD call or two, whatever the file's size;
 * damage inside earlier chunks is copied as it is (reading the file reports it).
 */
export async function* copyPayload(
  p: CryptoProvider,
  key: Uint8Array,
  reader: ByteReader,
  header: FileHeader,
): AsyncGenerator<Uint8Array> {
  try {
    const full = 2 ** header.chunkLog2 + 16;
    const aad = await p.sha256(header.bytes);
    const openChunk = chunkAead(p, header.suite, 'open');
    const opens = async (data: Uint8Array, index: number, final: boolean): Promise<Uint8Array | undefined> =>
      openChunk.call(p, key, chunkNonce(index, final), data, aad).catch((err: unknown) => {
        if (err instanceof VerificationError) return undefined;
        throw err;
      });
    // Read chunk by chunk (reads are exact until the end), holding back the one that may be last.
    let index = 0;
    let held = await reader.read(full);
    for (let next = await reader.read(full); next.length > 0; next = await reader.read(full)) {
      yield held;
      held = next;
      index++;
    }
    if (held.length === 0)
      throw new BackupPayloadError(BackupErrorCode.Truncated, 'backup payload is missing', 0);
    const plain = await opens(held, index, true);
    if (plain === undefined) {
      const inner = await opens(held, index, false);
      if (inner === undefined) throw invalidChunk(index);
      wipe(inner);
      throw new BackupPayloadError(
        BackupErrorCode.Truncated,
        'backup ends before its final chunk',
        index + 1,
      );
    }
    wipe(plain);
    if (index > 0 && plain.length === 0) {
      throw new BackupFormatError(BackupErrorCode.Malformed, 'empty final chunk after other chunks', 'chunk');
    }
    yield held;
  } finally {
    wipe(key);
  }
}
