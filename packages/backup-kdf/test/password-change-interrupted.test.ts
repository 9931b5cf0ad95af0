// Changing the password of a backup set of several files rewrites each file's slot section in turn
// (keyring.changePassword, then keyring.rewriteSlots per file). Interrupted between files, or in the
// middle of one, the set is mixed: some files carry the new password slot, some the old. Nothing is
// lost then: each file opens with the password its own slot section has, the keyring of any file of
// the set decrypts every other (the slots MAC covers only set-level fields), and rewriting the rest
// later completes the change.
import { BackupKeyring, IncorrectSecretError, noAttemptLimit, openBackup } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, collect, concat, layout, makeSet, PASSWORD } from './helpers.js';

const NEW_PASSWORD = 'a new password, longer than the old';
const open = (file: Uint8Array, password: string) =>
  openBackup(file, { password }, { attempts: noAttemptLimit });

let set: Awaited<ReturnType<typeof makeSet>>;
let newA: Uint8Array;
let bAfterFailure: Uint8Array;
beforeAll(async () => {
  set = await makeSet();
  const originalB = set.fileB.slice();
  await set.keyring.changePassword(NEW_PASSWORD, { argon2: unsafeTestParams() });
  newA = await set.keyring.rewriteSlots([set.fileA]).bytes();
  // The rewrite of the second file fails half way (its source breaks): the output stream errors.
  async function* breaksHalfWay() {
    yield set.fileB.subarray(0, 5000);
    throw new Error('disk read failed');
  }
  const { error } = await collect(set.keyring.rewriteSlots(breaksHalfWay()));
  expect(error).toBeInstanceOf(Error);
  expect(set.fileB).toEqual(originalB); // the source file itself is never written to
  bAfterFailure = set.fileB;
});

describe('a password change interrupted between the files of a set', () => {
  it('each file opens with the password its own slot section has', async () => {
    const a = await open(newA, NEW_PASSWORD);
    expect(await a.plaintext.bytes()).toEqual(set.plainA);
    const b = await open(bAfterFailure, PASSWORD);
    expect(await b.plaintext.bytes()).toEqual(set.plainB);
    // The other password is a wrong one for that file (and counts, with a real policy).
    await expect(open(newA, PASSWORD)).rejects.toBeInstanceOf(IncorrectSecretError);
    await expect(open(bAfterFailure, NEW_PASSWORD)).rejects.toBeInstanceOf(IncorrectSecretError);
  });

  it('the keyring of either file decrypts every file of the set: no file is lost', async () => {
    const viaNew = await open(newA, NEW_PASSWORD);
    await viaNew.plaintext.bytes();
    expect(await viaNew.keyring.decrypt([bAfterFailure]).bytes()).toEqual(set.plainB);
    const viaOld = await open(bAfterFailure, PASSWORD);
    await viaOld.plaintext.bytes();
    expect(await viaOld.keyring.decrypt([newA]).bytes()).toEqual(set.plainA);
  });

  it('the recovery key opens every file, old slot section or new', async () => {
    for (const [file, plain] of [
      [newA, set.plainA],
      [bAfterFailure, set.plainB],
    ] as const) {
      const { plaintext } = await openBackup(
        file,
        { recoveryKey: set.recoveryKey },
        { attempts: noAttemptLimit },
      );
      expect(await plaintext.bytes()).toEqual(plain);
    }
  });

  it('opening with the new password and rewriting the rest completes the change', async () => {
    const { keyring, plaintext } = await open(newA, NEW_PASSWORD);
    await plaintext.bytes();
    const newB = await keyring.rewriteSlots([bAfterFailure]).bytes();
    const b = await open(newB, NEW_PASSWORD);
    expect(concat((await collect(b.plaintext)).chunks)).toEqual(set.plainB);
    // Header and payload bytes unchanged; the new slot section is the one file A got (one per set).
    const [b0, a0] = [layout(newB, CHUNK), layout(newA, CHUNK)];
    expect(newB.subarray(0, 92)).toEqual(bAfterFailure.subarray(0, 92));
    expect(newB.subarray(b0.payloadStart)).toEqual(
      bAfterFailure.subarray(layout(bAfterFailure, CHUNK).payloadStart),
    );
    expect(newB.subarray(92, b0.payloadStart)).toEqual(newA.subarray(92, a0.payloadStart));
    await expect(open(newB, PASSWORD)).rejects.toBeInstanceOf(IncorrectSecretError);
  });
});

it('rewriteSlots of a file from another backup set is refused, so a set cannot be mixed with a stranger', async () => {
  const other = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
  const stranger = await other.keyring.encrypt([new Uint8Array(10)]).bytes();
  const set2 = await makeSet();
  const { error } = await collect(set2.keyring.rewriteSlots([stranger]));
  expect(error).toMatchObject({ code: 'BACKUP_HEADER_TAMPERED' });
});
