// The short HMAC/HKDF path (provider/sha256-blocks.ts, noble's compression block by block): the published
// RFC 4231 / RFC 5869 vectors, then every length it takes against @noble/hashes.
import { fromHex, nobleProvider, platformProvider, toHex } from '@e2ee-kit/core';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  hkdfIsShort,
  hkdfShort,
  hmacIsShort,
  hmacShort,
  SHORT_INPUT,
} from '../src/provider/sha256-blocks.js';
import { createDeterministicRandom } from '../src/testing/index.js';

const rnd = createDeterministicRandom('sha256-blocks.test');
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

describe('short HMAC-SHA256 / HKDF-SHA256', () => {
  it('gives the RFC 4231 HMAC-SHA256 results (test cases 1–4: keys of at most a block)', () => {
    const cases: [Uint8Array, Uint8Array, string][] = [
      [fill(20, 0x0b), ascii('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
      [
        ascii('Jefe'),
        ascii('what do ya want for nothing?'),
        '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      ],
      [fill(20, 0xaa), fill(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
      [
        Uint8Array.from({ length: 25 }, (_, i) => i + 1),
        fill(50, 0xcd),
        '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
      ],
    ];
    for (const [key, data, want] of cases) {
      expect(hmacIsShort(key.length, data.length)).toBe(true);
      expect(toHex(hmacShort(key, data))).toBe(want);
    }
  });

  it('gives the RFC 5869 HKDF-SHA256 results (test cases 1 and 3)', () => {
    const ikm = fill(22, 0x0b);
    const salt = Uint8Array.from({ length: 13 }, (_, i) => i);
    const info = Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i);
    expect(toHex(hkdfShort(ikm, salt, info, 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    );
    const tc3 = '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8';
    expect(toHex(hkdfShort(ikm, new Uint8Array(0), new Uint8Array(0), 42))).toBe(tc3);
    // An absent salt is 32 zero bytes, which as an HMAC key pads like the empty one.
    expect(toHex(hkdfShort(ikm, undefined, new Uint8Array(0), 42))).toBe(tc3);
  });

  it('takes keys up to one block and messages up to four padded blocks, nothing longer', () => {
    expect(hmacIsShort(64, SHORT_INPUT)).toBe(true);
    expect(hmacIsShort(65, 0)).toBe(false);
    expect(hmacIsShort(0, SHORT_INPUT + 1)).toBe(false);
    expect(hkdfIsShort(SHORT_INPUT, 64, SHORT_INPUT - 33)).toBe(true);
    expect(hkdfIsShort(SHORT_INPUT + 1, 0, 0)).toBe(false);
    expect(hkdfIsShort(0, 65, 0)).toBe(false);
    expect(hkdfIsShort(0, 0, SHORT_INPUT - 32)).toBe(false);
  });

  it('matches @noble/hashes HMAC for every key length ≤ 64 and every data length it takes', () => {
    for (let k = 0; k <= 64; k++) {
      const key = rnd(k);
      for (let n = 0; n <= SHORT_INPUT; n++) {
        const data = rnd(n);
        const ours = hmacShort(key, data);
        if (toHex(ours) !== toHex(hmac(sha256, key, data))) expect.fail(`hmac key ${k} data ${n}`);
      }
    }
  });

  it('matches @noble/hashes HKDF for every IKM and info length it takes, salts and output lengths', () => {
    const salts = [undefined, new Uint8Array(0), rnd(1), rnd(32), rnd(63), rnd(64)];
    const lengths = [1, 31, 32, 33, 64, 80, 96, 255 * 32];
    for (let n = 0; n <= SHORT_INPUT; n++) {
      const ikm = rnd(n);
      const info = rnd(n % (SHORT_INPUT - 32));
      const salt = salts[n % salts.length];
      const len = lengths[n % lengths.length] as number;
      expect(hkdfIsShort(ikm.length, salt?.length ?? 0, info.length)).toBe(true);
      const ours = hkdfShort(ikm, salt, info, len);
      if (toHex(ours) !== toHex(hkdf(sha256, ikm, salt, info, len))) expect.fail(`hkdf ikm ${n} len ${len}`);
    }
  });

  it('is what the noble and platform providers answer for short inputs, and a call sees no earlier state', async () => {
    const key = fromHex('0b'.repeat(20));
    const want = 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7';
    for (const p of [nobleProvider, platformProvider]) {
      hkdfShort(rnd(200), rnd(64), rnd(100), 300); // leaves nothing behind for the next call
      expect(toHex(p.hmacSha256Sync!(key, ascii('Hi There')))).toBe(want);
      expect(toHex(await p.hmacSha256(key, ascii('Hi There')))).toBe(want);
    }
  });
});
