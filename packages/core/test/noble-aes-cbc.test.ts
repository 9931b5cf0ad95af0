// AES-256-CBC on noble's block function (provider/noble-aes-cbc.ts) against two independent
// implementations: node:crypto (OpenSSL) and @noble/ciphers' own `cbc`. Every length 0–80 at aligned
// and misaligned offsets, and the PKCS#7 decision for every last-block padding pattern.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { toHex } from '@e2ee-kit/core';
import { cbc } from '@noble/ciphers/aes.js';
import { describe, expect, it } from 'vitest';
import { cbcDecrypt, cbcEncrypt } from '../src/provider/noble-aes-cbc.js';
import { createDeterministicRandom } from '../src/testing/index.js';

const rnd = createDeterministicRandom('noble-aes-cbc.test');

function openssl(mode: 'enc' | 'dec', key: Uint8Array, iv: Uint8Array, data: Uint8Array, padding = true) {
  const c =
    mode === 'enc' ? createCipheriv('aes-256-cbc', key, iv) : createDecipheriv('aes-256-cbc', key, iv);
  c.setAutoPadding(padding);
  return new Uint8Array(Buffer.concat([c.update(data), c.final()]));
}

/** `bytes` copied to offset `at` of a larger buffer (a view the way a parsed message holds it). */
function at(bytes: Uint8Array, offset: number): Uint8Array {
  const b = rnd(offset + bytes.length + 5);
  b.set(bytes, offset);
  return b.subarray(offset, offset + bytes.length);
}

describe('AES-256-CBC on noble blocks', () => {
  it('encrypts and decrypts like node:crypto and noble cbc for every length 0–80, at any offset', () => {
    for (let n = 0; n <= 80; n++) {
      for (const offset of [0, 1, 3, 4]) {
        const key = at(rnd(32), offset);
        const iv = at(rnd(16), (offset * 5) % 7);
        const pt = at(rnd(n), offset);
        const before = toHex(pt);
        const ct = cbcEncrypt(key, iv, pt);
        expect(toHex(ct)).toBe(toHex(openssl('enc', key, iv, pt)));
        expect(toHex(ct)).toBe(toHex(cbc(key, iv).encrypt(pt)));
        expect(toHex(pt)).toBe(before);
        const ctView = at(ct, offset + 1);
        const dec = cbcDecrypt(key, iv, ctView);
        expect(dec && toHex(dec)).toBe(before);
        expect(toHex(ctView)).toBe(toHex(ct));
        expect(dec?.buffer).not.toBe(ctView.buffer);
      }
    }
  });

  it('accepts and rejects padding as node:crypto does, for every last byte and a broken pad byte', () => {
    const key = rnd(32);
    const iv = rnd(16);
    let rejected = 0;
    for (let last = 0; last < 256; last++) {
      for (const broken of [-1, 0, 5, 15]) {
        const block = rnd(32);
        const pad = last >= 1 && last <= 16 ? last : 0;
        block.fill(last, 32 - pad);
        block[31] = last;
        // One byte inside the pad (if it has one there) made wrong.
        if (broken >= 0 && broken < pad - 1) block[31 - 1 - broken] = (last + 1) & 0xff;
        const ct = openssl('enc', key, iv, block, false);
        let want: string | undefined;
        try {
          want = toHex(openssl('dec', key, iv, ct));
        } catch {
          want = undefined;
        }
        const got = cbcDecrypt(key, iv, ct);
        expect(got && toHex(got)).toBe(want);
        if (want === undefined) rejected++;
      }
    }
    // 0 and 17–255 as the last byte, and every broken pad of length ≥ 3.
    expect(rejected).toBeGreaterThan(240 * 4);
  });
});
