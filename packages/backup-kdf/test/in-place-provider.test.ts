// A crypto provider may hand back its result in the memory of its input (a native module sealing or
// opening in place): payload.ts's buffer pool never reuses such a buffer, but it kept it on its list
// of buffers to zero at the end of the stream. Sealing, that zeroed ciphertext already handed to the
// consumer (the final chunk of every file whose last chunk is short); opening, it kept every chunk's
// buffer alive until the stream ended.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BackupKeyring, noAttemptLimit, openBackup } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { type CryptoProvider, nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { collect, concat, PASSWORD, pattern } from './helpers.js';

/** `nobleProvider`, but AES-GCM results are written over the input's memory when it has room. */
const inPlace: CryptoProvider = {
  ...nobleProvider,
  async aes256GcmEncrypt(key, nonce, plaintext, aad) {
    const sealed = await nobleProvider.aes256GcmEncrypt(key, nonce, plaintext, aad);
    if (plaintext.byteOffset + sealed.length > plaintext.buffer.byteLength) return sealed;
    const out = new Uint8Array(plaintext.buffer, plaintext.byteOffset, sealed.length);
    out.set(sealed);
    return out;
  },
  async aes256GcmDecrypt(key, nonce, sealed, aad) {
    const plain = await nobleProvider.aes256GcmDecrypt(key, nonce, sealed, aad);
    const out = new Uint8Array(sealed.buffer, sealed.byteOffset, plain.length);
    out.set(plain);
    return out;
  },
};

describe('a provider that works in place', () => {
  it('sealing: the ciphertext handed out is not zeroed when the stream ends', async () => {
    const { keyring } = await BackupKeyring.create({
      password: PASSWORD,
      argon2: unsafeTestParams(),
      provider: inPlace,
    });
    const plain = pattern(2 * 4096 + 100); // the final chunk is short: sealed in place
    const file = await keyring.encrypt([plain], { chunkSize: 4096 }).bytes();
    // Read with the ordinary provider: the file must be the one that was written.
    const { plaintext } = await openBackup(file, { password: PASSWORD }, { attempts: noAttemptLimit });
    const { chunks, error } = await collect(plaintext);
    expect(error).toBeUndefined();
    expect(concat(chunks)).toEqual(plain);
  });

  it('opening: plaintext handed out in place stays intact, and the round trip holds', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const plain = pattern(5 * 4096 + 7);
    const file = await keyring.encrypt([plain], { chunkSize: 4096 }).bytes();
    const { plaintext } = await openBackup(
      file,
      { password: PASSWORD },
      { attempts: noAttemptLimit, provider: inPlace },
    );
    const { chunks, error } = await collect(plaintext);
    expect(error).toBeUndefined();
    expect(concat(chunks)).toEqual(plain);
  });

  it('opening: a chunk handed out in place is not kept alive by the stream once the consumer dropped it', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const CHUNKS = 48;
    const file = await keyring.encrypt([pattern(CHUNKS * 4096 + 1)], { chunkSize: 4096 }).bytes();
    const seen: WeakRef<ArrayBufferLike>[] = [];
    const tracking: CryptoProvider = {
      ...inPlace,
      async aes256GcmDecrypt(key, nonce, sealed, aad) {
        if (sealed.length > 1000) seen.push(new WeakRef(sealed.buffer)); // payload chunks only
        return inPlace.aes256GcmDecrypt(key, nonce, sealed, aad);
      },
    };
    const { plaintext } = await openBackup(
      file,
      { password: PASSWORD },
      { attempts: noAttemptLimit, provider: tracking },
    );
    const it = plaintext[Symbol.asyncIterator]();
    let taken = 0;
    for (let i = 0; i < CHUNKS; i++) taken += (await it.next()).value!.length; // each chunk dropped at once
    await new Promise((resolve) => setTimeout(resolve, 0)); // WeakRefs are held until the job ends
    gc();
    const alive = seen.filter((w) => w.deref() !== undefined).length;
    // Still alive: the chunks in flight (4), the one read last. Not the 48 already consumed.
    expect(taken).toBe(CHUNKS * 4096);
    expect(seen.length).toBeGreaterThanOrEqual(CHUNKS);
    expect(alive).toBeLessThanOrEqual(6);
    await it.return?.();
  });
});
