import { fromUtf8, utf8 } from '@e2ee-kit/core';
import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

describe('smoke', () => {
  it('pqxdh round trip', async () => {
    const bob = await InMemoryProtocolStore.create();
    const bundle = await createPreKeyBundle(bob, { deviceId: 1 });
    const alice = await InMemoryProtocolStore.create();
    const a = new SessionCipher(alice, { name: 'bob', deviceId: 1 });
    await a.initiate(bundle);
    const w1 = await a.encrypt(utf8('hi'));
    expect(w1.type).toBe('prekey');
    const b = new SessionCipher(bob, { name: 'alice', deviceId: 1 });
    const r1 = await b.decrypt(w1);
    expect(fromUtf8(r1.plaintext)).toBe('hi');
    const w2 = await b.encrypt(utf8('yo'));
    expect(w2.type).toBe('whisper');
    expect(fromUtf8((await a.decrypt(w2)).plaintext)).toBe('yo');
    const w3 = await a.encrypt(utf8('3'));
    expect(w3.type).toBe('whisper');
    expect(fromUtf8((await b.decrypt(w3)).plaintext)).toBe('3');
  });
});
