// keyring.destroy() wipes the data key in place. A decrypt (or rewriteSlots) stream checking a
// file's MACs when it comes used to go on with the zeroed key and report the file as tampered —
// a wrong diagnosis an app would show the user as "your backup is damaged". A stream that has
// started reading the file works from its own copy of the key, so it completes as encrypt's does
// (destroy-while-streaming.test.ts); one not started refuses with the keyring's TypeError.
import { BackupKeyring, type CryptoProvider, nobleProvider } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { CHUNK, collect, concat, PASSWORD, pattern } from './helpers.js';

/** A provider that runs `hook.onHmac` (once) inside the next HMAC, between two awaits of a check. */
function hookedProvider(): { provider: CryptoProvider; hook: { onHmac?: (() => void) | undefined } } {
  const hook: { onHmac?: (() => void) | undefined } = {};
  const provider: CryptoProvider = {
    ...nobleProvider,
    async hmacSha256(key, data) {
      const run = hook.onHmac;
      hook.onHmac = undefined;
      run?.();
      return nobleProvider.hmacSha256(key, data);
    },
  };
  return { provider, hook };
}

async function setUp() {
  const { provider, hook } = hookedProvider();
  const { keyring } = await BackupKeyring.create({
    password: PASSWORD,
    argon2: unsafeTestParams(),
    provider,
  });
  const plain = pattern(3 * CHUNK + 100);
  const file = await keyring.encrypt([plain], { chunkSize: CHUNK }).bytes();
  return { keyring, plain, file, hook };
}

describe('keyring.destroy() while a file of the set is being checked', () => {
  it('decrypt: destroyed during the slot/header MAC check, the file still decrypts (not "tampered")', async () => {
    const { keyring, plain, file, hook } = await setUp();
    const output = keyring.decrypt([file]);
    hook.onHmac = () => keyring.destroy(); // inside the slots MAC, before the header MAC
    const { chunks, error } = await collect(output);
    expect(error).toBeUndefined();
    expect(concat(chunks)).toEqual(plain);
  });

  it('rewriteSlots: destroyed during the header check, the rewritten file is whole', async () => {
    const { keyring, file, hook } = await setUp();
    const output = keyring.rewriteSlots([file]);
    hook.onHmac = () => keyring.destroy(); // inside the header MAC, before the slot section is made
    const { chunks, error } = await collect(output);
    expect(error).toBeUndefined();
    expect(concat(chunks)).toEqual(file);
  });

  it('a decrypt not started before destroy() refuses with TypeError and yields nothing', async () => {
    const { keyring, file } = await setUp();
    const output = keyring.decrypt([file]);
    keyring.destroy();
    const { chunks, error } = await collect(output);
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toMatch(/destroyed/);
    expect(chunks).toHaveLength(0);
  });
});
