// A short final chunk followed by a few extra bytes is BACKUP_TRAILING_DATA (README, errors table:
// "up to 1 KiB after a short one"), also when the final chunk is so close to full size that the
// extra bytes run past the chunk boundary: the reader then reads the final chunk and the first
// extra bytes as one full-size chunk, and this was reported as BACKUP_CHUNK_INVALID.
import { BackupErrorCode, BackupPayloadError, noAttemptLimit, openBackup } from '@e2ee-kit/backup-kdf';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, collect, concat, makeSet, PASSWORD, pattern } from './helpers.js';

let set: Awaited<ReturnType<typeof makeSet>>;
/** Two full chunks, then a final chunk 20 bytes short of full size (its ciphertext: CHUNK - 4 bytes). */
const plain = pattern(3 * CHUNK - 20, 13, 1);
let file: Uint8Array;
beforeAll(async () => {
  set = await makeSet();
  file = await set.keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
});

function trailingAfterFinal(error: unknown, released: Uint8Array) {
  expect(error).toBeInstanceOf(BackupPayloadError);
  expect(error).toMatchObject({ code: BackupErrorCode.TrailingData, position: 3 });
  // The chunks before the final one were released; the final one is held back (it is followed by bytes).
  expect(released).toEqual(plain.subarray(0, 2 * CHUNK));
}

describe('trailing bytes that run past the chunk boundary after a short final chunk', () => {
  // 20 extra bytes still fit in the final read; 21 and more spill into a read of their own.
  for (const extra of [20, 21, 37, 500, 1024]) {
    it(`${extra} extra byte(s) → BACKUP_TRAILING_DATA at the position after the final chunk`, async () => {
      const extended = concat([file, new Uint8Array(extra).fill(0xa5)]);
      const opened = await openBackup(extended, { password: PASSWORD }, { attempts: noAttemptLimit });
      const viaOpen = await collect(opened.plaintext);
      trailingAfterFinal(viaOpen.error, concat(viaOpen.chunks));
      const viaKeyring = await collect(set.keyring.decrypt([extended]));
      trailingAfterFinal(viaKeyring.error, concat(viaKeyring.chunks));
    });
  }

  it('more than 1 KiB of them is still refused (the search is bounded), the final chunk not released', async () => {
    const { chunks, error } = await collect(set.keyring.decrypt([concat([file, new Uint8Array(3000)])]));
    expect(error).toBeInstanceOf(BackupPayloadError);
    expect(concat(chunks)).toEqual(plain.subarray(0, 2 * CHUNK));
  });

  it('the untouched file opens (sanity)', async () => {
    const { chunks, error } = await collect(set.keyring.decrypt([file]));
    expect(error).toBeUndefined();
    expect(concat(chunks)).toEqual(plain);
  });
});
