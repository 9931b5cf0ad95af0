// An external slot's secret and data are the caller's bytes — often a buffer the app reuses (a
// response pool, a reader's scratch buffer). create() read them only after the password slot's
// Argon2 had run, and addExternalSlot() read the data after its KDF: bytes reused meanwhile were
// what got wrapped and stored, so the slot did not open with the secret the caller had passed.
// Both now copy what they were given when called.
import { type Argon2Provider, BackupKeyring, noAttemptLimit, unlockBackup } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { countingArgon2, PASSWORD } from './helpers.js';

const TYPE = 0x90;
const SECRET = new Uint8Array(32).map((_, i) => 100 + i);
const DATA = new TextEncoder().encode('server record 42');

/** An Argon2 provider that runs `during` while it derives (the caller's code running meanwhile). */
function argon2Running(during: () => void): Argon2Provider {
  const inner = countingArgon2();
  return {
    ...inner,
    async argon2id(input) {
      during();
      return inner.argon2id(input);
    },
  };
}

async function opensWith(keyring: BackupKeyring, secret: Uint8Array) {
  const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
  return unlockBackup(file, { external: async () => secret }, { attempts: noAttemptLimit });
}

describe('external slot bytes reused by the caller while the call runs', () => {
  it('create: the slot holds the secret and data as passed, not as reused during the Argon2 run', async () => {
    const secret = SECRET.slice();
    const data = DATA.slice();
    const argon2Provider = argon2Running(() => {
      secret.fill(0xee);
      data.fill(0x21);
    });
    const { keyring } = await BackupKeyring.create({
      password: PASSWORD,
      argon2: unsafeTestParams(),
      argon2Provider,
      external: [{ type: TYPE, secret, data }],
    });
    expect(keyring.slots[1]).toEqual({ type: 'external', typeByte: TYPE, data: DATA });
    await expect(opensWith(keyring, SECRET)).resolves.toBeInstanceOf(BackupKeyring);
    expect(secret.every((b) => b === 0xee)).toBe(true); // never written to by us
  });

  it('addExternalSlot: the data is the one passed, even if reused during the key derivation', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const secret = SECRET.slice();
    const data = DATA.slice();
    const adding = keyring.addExternalSlot({ type: TYPE, secret, data });
    secret.fill(0xee);
    data.fill(0x21);
    await adding;
    expect(keyring.slots[1]).toEqual({ type: 'external', typeByte: TYPE, data: DATA });
    await expect(opensWith(keyring, SECRET)).resolves.toBeInstanceOf(BackupKeyring);
  });
});
