// rewriteSlots and changeBackupPassword copy a file's payload unchanged. A source that simply ends
// early — a download cut off, a partial copy — used to give a rewritten file that "completed"
// cleanly and was just as cut off: an app replacing the good file on its server with it (the usual
// way to finish a password change) lost the end of the backup. The copy now checks the last chunk
// (one AEAD call, whatever the file's size): its end must be the file's final chunk.
import {
  BackupErrorCode,
  BackupPayloadError,
  changeBackupPassword,
  noAttemptLimit,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { CHUNK, collect, concat, layout, makeSet, openAll, PASSWORD } from './helpers.js';

const NEW_PASSWORD = 'a new password, longer than the old';

/** Every way to cut file A short (at a chunk boundary, inside a chunk, inside the tag), and trailing bytes. */
function damagedCopies(file: Uint8Array) {
  const { payloadStart, chunks } = layout(file, CHUNK);
  return [
    { label: 'payload missing', bytes: file.slice(0, payloadStart), code: BackupErrorCode.Truncated },
    { label: 'at a chunk boundary', bytes: file.slice(0, chunks[2]![1]), code: BackupErrorCode.Truncated },
    {
      label: 'inside a chunk',
      bytes: file.slice(0, chunks[2]![0] + 100),
      code: BackupErrorCode.ChunkInvalid,
    },
    {
      label: 'inside the last tag',
      bytes: file.slice(0, file.length - 3),
      code: BackupErrorCode.ChunkInvalid,
    },
    {
      label: 'one byte appended',
      bytes: concat([file, Uint8Array.of(0)]),
      code: BackupErrorCode.ChunkInvalid,
    },
  ];
}

describe('a rewrite of a cut-off source fails instead of writing a cut-off file', () => {
  it('keyring.rewriteSlots: the output stream ends in a BackupPayloadError', async () => {
    const set = await makeSet();
    for (const { label, bytes, code } of damagedCopies(set.fileA)) {
      const { error } = await collect(set.keyring.rewriteSlots([bytes]));
      expect(error, label).toBeInstanceOf(BackupPayloadError);
      expect(error, label).toMatchObject({ code });
    }
  });

  it('changeBackupPassword: the same, and an intact file still round-trips', async () => {
    const set = await makeSet();
    for (const { label, bytes, code } of damagedCopies(set.fileA)) {
      const { output } = await changeBackupPassword(bytes, { password: PASSWORD }, NEW_PASSWORD, {
        attempts: noAttemptLimit,
        argon2: unsafeTestParams(),
      });
      const { error } = await collect(output);
      expect(error, label).toMatchObject({ code });
    }
    const { output } = await changeBackupPassword(set.fileA, { password: PASSWORD }, NEW_PASSWORD, {
      attempts: noAttemptLimit,
      argon2: unsafeTestParams(),
    });
    const changed = await output.bytes();
    const { released, error } = await openAll(changed, { password: NEW_PASSWORD });
    expect(error).toBeUndefined();
    expect(released).toEqual(set.plainA);
    // Payload bytes unchanged.
    expect(changed.subarray(layout(changed, CHUNK).payloadStart)).toEqual(
      set.fileA.subarray(layout(set.fileA, CHUNK).payloadStart),
    );
  });

  it('an empty payload file of one empty chunk is copied whole', async () => {
    const set = await makeSet();
    const empty = await set.keyring.encrypt([new Uint8Array(0)], { chunkSize: CHUNK }).bytes();
    const rewritten = await set.keyring.rewriteSlots([empty]).bytes();
    expect(rewritten).toEqual(empty);
  });
});
