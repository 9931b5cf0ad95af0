// keyring.destroy() wipes the data key in place. An app that destroys the keyring as soon as it
// has started an upload (the output stream already pulled from) must not get a file whose payload
// is sealed under a key derived from zeroed bytes — unreadable with the password, and readable by
// anyone who derives from zeros. Every key of a file is derived from the data key before its first
// byte goes out, so the file is whole; a stream not started yet refuses (the keyring is gone).
import { BackupKeyring } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { CHUNK, collect, concat, openAll, PASSWORD, pattern } from './helpers.js';

async function setUp() {
  const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
  const plain = pattern(3 * CHUNK + 100);
  return { keyring, plain };
}

/** Pulls `before` pieces, destroys the keyring, then drains the rest. */
async function encryptDestroyingAfter(before: number) {
  const { keyring, plain } = await setUp();
  const it = keyring.encrypt([plain], { chunkSize: CHUNK })[Symbol.asyncIterator]();
  const parts: Uint8Array[] = [];
  for (let i = 0; i < before; i++) {
    const r = await it.next();
    if (!r.done) parts.push(r.value);
  }
  keyring.destroy();
  const rest = await collect({ [Symbol.asyncIterator]: () => it });
  return { plain, file: concat([...parts, ...rest.chunks]), error: rest.error };
}

describe('keyring.destroy() while an encrypt stream is being read', () => {
  for (const before of [1, 2, 3]) {
    it(`after ${before} piece(s) were read, the file is still whole and opens with the password`, async () => {
      const { plain, file, error } = await encryptDestroyingAfter(before);
      expect(error).toBeUndefined();
      const { released, error: openError } = await openAll(file);
      expect(openError).toBeUndefined();
      expect(released).toEqual(plain);
    });
  }

  it('destroyed while the first piece is being made: the file is whole too', async () => {
    const { keyring, plain } = await setUp();
    const it = keyring.encrypt([plain], { chunkSize: CHUNK })[Symbol.asyncIterator]();
    const first = it.next();
    keyring.destroy();
    const head = await first;
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest.error).toBeUndefined();
    const file = concat([head.value as Uint8Array, ...rest.chunks]);
    expect((await openAll(file)).released).toEqual(plain);
  });

  it('a stream not started before destroy() refuses (TypeError), it yields nothing', async () => {
    const { keyring, plain } = await setUp();
    const output = keyring.encrypt([plain], { chunkSize: CHUNK });
    keyring.destroy();
    const { chunks, error } = await collect(output);
    expect(error).toBeInstanceOf(TypeError);
    expect(chunks).toHaveLength(0);
  });

  it('rewriteSlots: destroyed after the header was read, the rewritten file is whole', async () => {
    const { keyring, plain } = await setUp();
    const file = await keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
    const it = keyring.rewriteSlots([file])[Symbol.asyncIterator]();
    const head = await it.next();
    keyring.destroy();
    const rest = await collect({ [Symbol.asyncIterator]: () => it });
    expect(rest.error).toBeUndefined();
    expect(concat([head.value as Uint8Array, ...rest.chunks])).toEqual(file);
  });
});
