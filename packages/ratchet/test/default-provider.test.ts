// The provider the ratchet uses when none is passed (core's defaultProviderWithoutAead: its AES-GCM and
// ChaCha20-Poly1305 throw). Whole sessions run on it, so a ratchet path that started calling an AEAD on
// the default provider fails here; a provider passed in is validated and used, as before.
import { type CryptoProvider, nobleProvider } from '@e2ee-kit/core';
import {
  createPreKeyBundle,
  generatePreKeys,
  PreKeyManager,
  SessionCipher,
  type SessionCipherOptions,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

const text = (s: string) => new TextEncoder().encode(s);
const read = (b: Uint8Array) => new TextDecoder().decode(b);
const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 1 };

async function converse(protocol: 'pqxdh' | 'x3dh', options: SessionCipherOptions = {}): Promise<string[]> {
  const bobStore = await InMemoryProtocolStore.create();
  const aliceStore = await InMemoryProtocolStore.create();
  const bundle = await createPreKeyBundle(bobStore, {
    deviceId: 1,
    ...(protocol === 'x3dh' ? { kyberPreKey: false as const } : {}),
    ...(options.provider ? { provider: options.provider } : {}),
  });
  const toBob = new SessionCipher(aliceStore, bob, options);
  const toAlice = new SessionCipher(bobStore, alice, { ...options, acceptX3dh: protocol === 'x3dh' });
  await toBob.initiate(bundle, { protocol });
  const seen: string[] = [];
  // Enough turns for several DH ratchet steps and, on PQXDH, SPQR braid messages both ways.
  for (let i = 0; i < 12; i++) {
    const [from, to] = i % 3 === 2 ? [toAlice, toBob] : [toBob, toAlice];
    seen.push(read((await to.decrypt(await from.encrypt(text(`message ${i}`)))).plaintext));
  }
  return seen;
}

const expected = Array.from({ length: 12 }, (_, i) => `message ${i}`);

describe('the ratchet with no provider passed', () => {
  it('runs a PQXDH session (pre-keys, bundle, handshake, SPQR) without any AEAD', async () => {
    expect(await converse('pqxdh')).toEqual(expected);
  });

  it('runs a legacy X3DH session without any AEAD', async () => {
    expect(await converse('x3dh')).toEqual(expected);
  });

  it('maintains pre-keys without any AEAD', async () => {
    const store = await InMemoryProtocolStore.create();
    const upload = await new PreKeyManager(store).maintain({ preKeys: 0, kyberPreKeys: 0 });
    expect(upload.preKeys.length).toBeGreaterThan(0);
    expect((await generatePreKeys(1, 2)).map((r) => r.id)).toEqual([1, 2]);
  });
});

describe('a provider passed in', () => {
  it('is used', async () => {
    let hkdfCalls = 0;
    const counting: CryptoProvider = {
      ...nobleProvider,
      name: 'counting',
      hkdfSha256: (...args) => {
        hkdfCalls++;
        return nobleProvider.hkdfSha256(...args);
      },
    };
    expect(await converse('pqxdh', { provider: counting })).toEqual(expected);
    expect(hkdfCalls).toBeGreaterThan(0);
  });

  it('is validated: anything but a CryptoProvider is a TypeError', async () => {
    const store = await InMemoryProtocolStore.create();
    const notAProvider = { name: 'x' } as unknown as CryptoProvider;
    expect(() => new SessionCipher(store, bob, { provider: notAProvider })).toThrow(
      new TypeError('provider must be a CryptoProvider'),
    );
    expect(() => new PreKeyManager(store, { provider: notAProvider })).toThrow(TypeError);
    await expect(generatePreKeys(1, 1, { provider: notAProvider })).rejects.toThrow(TypeError);
  });
});
