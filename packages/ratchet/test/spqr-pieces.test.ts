// SPQR pieces against libsignal-client 0.103.0's capture: wire messages, erasure code, ML-KEM-768
// incremental encapsulation, authenticator MACs, epoch secrets and chain keys.
import { nobleProvider } from '@e2ee-kit/core';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, it } from 'vitest';
import { authInit, authUpdate, epochSecret, macCiphertext, macHeader } from '../src/spqr/authenticator.js';
import { addEpoch, newChain, recvKey, sendKey } from '../src/spqr/chain.js';
import { ChunkDecoder, ChunkEncoder } from '../src/spqr/erasure.js';
import { PayloadType, parseSpqrMessage, serializeSpqrMessage } from '../src/spqr/message.js';
import {
  decaps,
  ekMatchesHeader,
  encaps1,
  encaps2,
  encaps2Checked,
  generateKeys,
  keysFromDk,
} from '../src/spqr/mlkem768.js';
import { authKey, chainKey, epochs, messages } from './fixtures/spqr/vector.js';

const provider = nobleProvider;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The vector's messages of one object: (epoch, sender, payload types). */
function chunksOf(epoch: number, from: 'A' | 'B', types: number[]) {
  return messages
    .map((m) => ({ ...m, msg: parseSpqrMessage(m.pq) }))
    .filter((m) => m.from === from && m.msg.epoch === epoch && types.includes(m.msg.type))
    .map((m) => m.msg.chunk as { index: number; data: Uint8Array });
}

describe('pq_ratchet messages (vector)', () => {
  it('every captured message parses and re-serializes byte-identically', () => {
    for (const m of messages) {
      const parsed = parseSpqrMessage(m.pq);
      expect(hex(serializeSpqrMessage(parsed))).toBe(hex(m.pq));
    }
  });

  it('the first messages are what spec §1.3 describes', () => {
    const t = messages.slice(0, 8).map((m) => parseSpqrMessage(m.pq));
    expect(t.map((m) => m.type)).toEqual([1, 0, 1, 0, 1, 5, 2, 5]);
    expect(t.map((m) => m.epoch)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    expect(t.map((m) => m.index)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
    expect(parseSpqrMessage(messages[86]!.pq)).toEqual({ epoch: 2, index: 1, type: PayloadType.None });
  });
});

describe('erasure code (vector)', () => {
  const objects = (e: (typeof epochs)[number]) =>
    [
      { bytes: Buffer.concat([e.hdr, e.hdrMac]), types: [1], from: e.keySender },
      { bytes: e.ek, types: [2, 3], from: e.keySender },
      { bytes: e.ct1, types: [5], from: e.keySender === 'A' ? 'B' : 'A' },
      { bytes: Buffer.concat([e.ct2, e.ctMac]), types: [6], from: e.keySender === 'A' ? 'B' : 'A' },
    ] as const;

  it('re-encodes every captured chunk (systematic and parity) and decodes every object from them', () => {
    for (const e of epochs) {
      for (const o of objects(e)) {
        const chunks = chunksOf(e.epoch, o.from, [...o.types]);
        expect(chunks.length).toBeGreaterThanOrEqual(o.bytes.length / 32);
        const enc = new ChunkEncoder(new Uint8Array(o.bytes));
        let dec = new ChunkDecoder(o.bytes.length);
        for (const c of chunks) {
          expect(hex(enc.chunkAt(c.index).data)).toBe(hex(c.data));
          dec = dec.withChunk(c);
        }
        expect(hex(dec.decoded()!)).toBe(hex(o.bytes));
      }
    }
  });

  it('decodes every captured object with its chunks delivered in reverse order', () => {
    for (const e of epochs)
      for (const o of objects(e)) {
        let dec = new ChunkDecoder(o.bytes.length);
        for (const c of chunksOf(e.epoch, o.from, [...o.types]).reverse()) dec = dec.withChunk(c);
        expect(hex(dec.decoded()!)).toBe(hex(o.bytes));
      }
  });
});

describe('ML-KEM-768 incremental (vector + noble one-shot)', () => {
  for (const e of epochs) {
    it(`epoch ${e.epoch}: hdr/ek from dk, ct1 and ct2 from hdr + m, K, decapsulation`, () => {
      const keys = keysFromDk(e.dk);
      expect(hex(keys.hdr)).toBe(hex(e.hdr));
      expect(hex(keys.ek)).toBe(hex(e.ek));
      expect(ekMatchesHeader(e.ek, e.hdr)).toBe(true);
      const { ct1, sharedSecret } = encaps1(e.hdr, e.encapsM);
      expect(hex(ct1)).toBe(hex(e.ct1));
      expect(hex(sharedSecret)).toBe(hex(e.kemSharedSecret));
      expect(hex(encaps2(e.hdr, e.ek, e.encapsM))).toBe(hex(e.ct2));
      expect(hex(encaps2Checked(e.hdr, e.ek, e.encapsM))).toBe(hex(e.ct2));
      expect(hex(decaps(e.dk, e.ct1, e.ct2))).toBe(hex(e.kemSharedSecret));
    });
  }

  it('Encaps2 (v part only) equals the tail of noble one-shot encapsulation: 60 random keys and seeds, all-zero and all-one m', () => {
    const ms = [new Uint8Array(32), new Uint8Array(32).fill(0xff)];
    for (let i = 0; i < 60; i++) ms.push(crypto.getRandomValues(new Uint8Array(32)));
    ms.forEach((m, i) => {
      const seed = crypto.getRandomValues(new Uint8Array(64));
      const { publicKey, secretKey } = ml_kem768.keygen(seed);
      const keys = generateKeys(seed);
      expect(hex(keys.dk)).toBe(hex(secretKey));
      const one = ml_kem768.encapsulate(publicKey, m.slice());
      const want = hex(one.cipherText.subarray(960));
      expect(hex(encaps2Checked(keys.hdr, keys.ek, m)), `case ${i}`).toBe(want);
      expect(hex(encaps2(keys.hdr, keys.ek, m))).toBe(want);
      const { ct1, sharedSecret } = encaps1(keys.hdr, m);
      expect(hex(decaps(keys.dk, ct1, encaps2Checked(keys.hdr, keys.ek, m)))).toBe(hex(sharedSecret));
    });
  });

  it('decapsulation with a dk whose stored H(ek) is wrong is refused with SPQR_ERRONEOUS_DATA', () => {
    const e = epochs[0]!;
    const dk = e.dk.slice();
    dk[2340]! ^= 1;
    expect(() => decaps(dk, e.ct1, e.ct2)).toThrow(expect.objectContaining({ code: 'SPQR_ERRONEOUS_DATA' }));
  });

  it('Encaps1 + Encaps2 equal noble one-shot encapsulation with the same randomness (random keys)', () => {
    for (let i = 0; i < 5; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(64));
      const m = crypto.getRandomValues(new Uint8Array(32));
      const { publicKey, secretKey } = ml_kem768.keygen(seed);
      const keys = keysFromDk(secretKey);
      const one = ml_kem768.encapsulate(publicKey, m);
      const { ct1, sharedSecret } = encaps1(keys.hdr, m);
      const ct2 = encaps2(keys.hdr, keys.ek, m);
      expect(hex(Buffer.concat([ct1, ct2]))).toBe(hex(one.cipherText));
      expect(hex(sharedSecret)).toBe(hex(one.sharedSecret));
    }
  });

  it('an ek that does not match its header, or fails the modulus check, is refused', () => {
    const e = epochs[0]!;
    const bad = e.ek.slice();
    bad[7]! ^= 1;
    expect(ekMatchesHeader(bad, e.hdr)).toBe(false);
    const over = e.ek.slice();
    over[0] = 0xff;
    over[1] = 0xff; // coefficient 4095 ≥ q
    expect(ekMatchesHeader(over, e.hdr)).toBe(false);
  });
});

describe('authenticator, epoch secrets and chains (vector)', () => {
  it('authenticator before/after every epoch, hdrMAC and ctMAC', async () => {
    let auth = await authInit(authKey, provider);
    for (const e of epochs) {
      expect(hex(auth.root)).toBe(hex(e.authBefore.root));
      expect(hex(auth.mac)).toBe(hex(e.authBefore.mac));
      expect(hex(await macHeader(auth, e.epoch, e.hdr, provider))).toBe(hex(e.hdrMac));
      const secret = await epochSecret(e.kemSharedSecret, e.epoch, provider);
      expect(hex(secret)).toBe(hex(e.epochSecret));
      auth = await authUpdate(auth, e.epoch, secret, provider);
      expect(hex(auth.root)).toBe(hex(e.authAfter.root));
      expect(hex(auth.mac)).toBe(hex(e.authAfter.mac));
      expect(hex(await macCiphertext(auth, e.epoch, e.ct1, e.ct2, provider))).toBe(hex(e.ctMac));
    }
  });

  it('chain keys of chain epochs 0–2 in both directions, next_root after each epoch', async () => {
    for (const a2b of [true, false]) {
      const c = await newChain(authKey, a2b, provider);
      const c2 = await newChain(authKey, !a2b, provider);
      const mine = a2b ? 'A2B' : 'B2A';
      for (let epoch = 0; epoch <= 2; epoch++) {
        if (epoch > 0) {
          const e = epochs[epoch - 1]!;
          await addEpoch(c, epoch, e.epochSecret, provider);
          await addEpoch(c2, epoch, e.epochSecret, provider);
          expect(hex(c.nextRoot)).toBe(hex(e.nextRootAfter));
        }
        for (let i = 1; i <= 3; i++) {
          const s = await sendKey(c, epoch, provider);
          expect(s.index).toBe(i);
          expect(hex(s.key)).toBe(hex(chainKey(epoch, mine, i)!));
        }
        // The peer's receiving side, out of order: 3 first, then 1, then 2.
        for (const i of [3, 1, 2])
          expect(hex(await recvKey(c2, epoch, i, provider))).toBe(hex(chainKey(epoch, mine, i)!));
      }
    }
  });
});
