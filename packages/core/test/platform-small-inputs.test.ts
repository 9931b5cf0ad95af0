// platformProvider below its Web Crypto threshold: small symmetric inputs (every ratchet message) are
// answered by noble without touching Web Crypto at all, not even its support probe, and give noble's
// bytes; from the threshold up the same calls go to Web Crypto and still give the same bytes.
import { createPlatformProvider, nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { createDeterministicRandom } from '../src/testing/index.js';

const rnd = createDeterministicRandom('platform-small-inputs.test');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Web Crypto with every call counted. */
function countingSubtle(): { subtle: SubtleCrypto; calls: string[] } {
  const real = globalThis.crypto.subtle;
  const calls: string[] = [];
  const subtle = new Proxy(real, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.push(String(prop));
        return (v as (...x: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { subtle, calls };
}

/** Every symmetric call the threshold governs, on `n`-byte data, as hex (or the error's name). */
async function run(p: typeof nobleProvider, key: Uint8Array, iv: Uint8Array, data: Uint8Array) {
  const ct = await p.aes256CbcEncrypt(key, iv, data);
  const bad = ct.slice();
  bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
  return [
    hex(await p.sha256(data)),
    hex(await p.sha512(data)),
    hex(await p.hmacSha256(key, data)),
    hex(await p.hmacSha256(new Uint8Array(0), data)),
    hex(await p.hmacSha512(key, data)),
    hex(await p.hkdfSha256(data, key, iv, 80)),
    hex(await p.hkdfSha256(data, undefined, iv, 0)),
    hex(ct),
    hex(await p.aes256CbcDecrypt(key, iv, ct)),
    await p.aes256CbcDecrypt(key, iv, bad).then(
      () => 'accepted',
      (e: Error) => e.name,
    ),
    await p.aes256CbcDecrypt(key, iv, ct.subarray(1)).then(
      () => 'accepted',
      (e: Error) => e.name,
    ),
  ];
}

describe('platformProvider, small symmetric inputs', () => {
  it('never reach Web Crypto (no probe either) and give noble’s bytes; large ones go to Web Crypto, same bytes', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ subtle, webCryptoMinBytes: 1024 });
    const key = rnd(32);
    const iv = rnd(16);
    // 1007 bytes: its ciphertext (1008) is still below the threshold.
    for (const n of [0, 1, 200, 356, 1007]) {
      const data = rnd(n);
      expect(await run(p, key, iv, data)).toEqual(await run(nobleProvider, key, iv, data));
    }
    expect(calls).toEqual([]);
    const data = rnd(3000);
    expect(await run(p, key, iv, data)).toEqual(await run(nobleProvider, key, iv, data));
    expect(calls).toContain('digest');
    expect(calls).toContain('sign');
    expect(calls).toContain('deriveBits');
    expect(calls).toContain('encrypt');
    expect(calls).toContain('decrypt');
  });
});
