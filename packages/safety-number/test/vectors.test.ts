// Every vector in fingerprint-libsignal.json (libsignal's published test vectors and the ones generated
// with libsignal-client 0.103.0) through every crypto provider.
import { type CryptoProvider, fromHex, nobleProvider, toHex, utf8 } from '@e2ee-kit/core';
import {
  aciIdentifier,
  computeSafetyNumber,
  e164Identifier,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
  ScannableFingerprint,
} from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;
const alice = { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) };
const bob = { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) };

/**
 * Every provider, plus the opt-in WebAssembly SHA-512 entry over the pure path, and each provider
 * without its `sha512IterateSync` (an app's own provider may lack it: rounds then go through `sha512Sync`).
 */
const providers = [
  ...allProviders,
  ...allProviders.map(({ label, provider }) => {
    const { sha512IterateSync: _iterate, ...perRound } = provider;
    return { label: `${label} (sha512Sync per round)`, provider: perRound as CryptoProvider };
  }),
  { label: 'noble+wasm-sha512', provider: await withWasmSha512(nobleProvider) },
];

describe.each(providers)('libsignal vectors with provider $label', ({ provider }) => {
  for (const version of [1, 2] as const) {
    it(`published vector v${version}: digits, halves and scannable bytes from both sides`, () => {
      const a = computeSafetyNumber({
        local: alice,
        remote: bob,
        version,
        iterations: pub.iterations,
        provider,
      });
      const b = computeSafetyNumber({
        local: bob,
        remote: alice,
        version,
        iterations: pub.iterations,
        provider,
      });
      expect(a.digits).toBe(pub.displayable);
      expect(b.digits).toBe(pub.displayable);
      expect(a.localDigits).toBe(pub.aliceHalf30);
      expect(a.remoteDigits).toBe(pub.bobHalf30);
      expect(b.localDigits).toBe(pub.bobHalf30);
      const expected = version === 1 ? pub.v1 : pub.v2;
      expect(toHex(a.scannable.serialize())).toBe(expected.aliceScannableHex);
      expect(toHex(b.scannable.serialize())).toBe(expected.bobScannableHex);
      expect(a.compare(b.scannable.serialize())).toEqual({ status: 'match' });
      expect(b.compare(a.scannable)).toEqual({ status: 'match' });
      // libsignal: a fingerprint compared with itself is false.
      expect(a.compare(a.scannable.serialize())).toEqual({ status: 'mismatch' });
    });
  }

  for (const [i, v] of fingerprintVectors.vectors.entries()) {
    it(`generated vector #${i} (v${v.version}, ${v.iterations} iterations, ${v.identifierKind})`, () => {
      const local = {
        identifier: fromHex(v.localIdentifierHex),
        identityKey: fromHex(v.localIdentityKeyHex),
      };
      const remote = {
        identifier: fromHex(v.remoteIdentifierHex),
        identityKey: fromHex(v.remoteIdentityKeyHex),
      };
      const opts = { version: v.version, iterations: v.iterations, provider };
      const ours = computeSafetyNumber({ local, remote, ...opts });
      const theirs = computeSafetyNumber({ local: remote, remote: local, ...opts });
      expect(ours.localDigits).toBe(v.localHalf30);
      expect(ours.remoteDigits).toBe(v.remoteHalf30);
      expect(ours.digits).toBe(v.displayable);
      expect(theirs.digits).toBe(v.displayable);
      expect(toHex(ours.scannable.serialize())).toBe(v.scannableLocalHex);
      expect(toHex(theirs.scannable.serialize())).toBe(v.scannableRemoteHex);
      expect(ours.compare(fromHex(v.scannableRemoteHex))).toEqual({ status: 'match' });
      expect(theirs.compare(fromHex(v.scannableLocalHex))).toEqual({ status: 'match' });
    });
  }
});

describe('identifier helpers give the bytes the vectors hash', () => {
  it('ACI UUID text → 16 bytes in string order; E.164 → UTF-8', () => {
    for (const v of fingerprintVectors.vectors) {
      const helper = v.identifierKind === 'aci-uuid-16-bytes' ? aciIdentifier : e164Identifier;
      expect(toHex(helper(v.localIdentifierText))).toBe(v.localIdentifierHex);
      expect(toHex(helper(v.remoteIdentifierText))).toBe(v.remoteIdentifierHex);
    }
    expect(toHex(e164Identifier(pub.aliceIdentifier))).toBe('2b3134313532323232323232');
  });
});

describe('scannable encoding (libsignal fingerprint_encodings)', () => {
  it('local 0x12×32, remote 0xba×32, version 2', () => {
    const s = ScannableFingerprint.of(2, new Uint8Array(32).fill(0x12), new Uint8Array(32).fill(0xba));
    expect(toHex(s.serialize())).toBe(`080212220a20${'12'.repeat(32)}1a220a20${'ba'.repeat(32)}`);
    const back = ScannableFingerprint.deserialize(s.serialize());
    expect(back.version).toBe(2);
    expect(toHex(back.localFingerprint)).toBe('12'.repeat(32));
    expect(toHex(back.remoteFingerprint)).toBe('ba'.repeat(32));
  });
});

describe('compare() outcomes observed from libsignal (compareBehaviour)', () => {
  const cb = fingerprintVectors.compareBehaviour;
  const v1 = computeSafetyNumber({ local: alice, remote: bob, version: 1 });

  it(`version mismatch: "${cb.versionMismatch.message}"`, () => {
    const [, them, us] = /them (\d+) us (\d+)/.exec(cb.versionMismatch.message)!.map(Number);
    expect(cb.versionMismatch.threw).toBe(true);
    expect(us).toBe(1);
    expect(v1.compare(fromHex(pub.v2.bobScannableHex))).toEqual({
      status: 'version-mismatch',
      ours: us,
      theirs: them,
    });
  });

  it(`missing version: "${cb.missingVersion.message}"`, () => {
    const [, them, us] = /them (\d+) us (\d+)/.exec(cb.missingVersion.message)!.map(Number);
    const withoutVersion = fromHex(pub.v1.bobScannableHex).subarray(2); // drop `08 01`
    expect(v1.compare(withoutVersion)).toEqual({ status: 'version-mismatch', ours: us, theirs: them });
  });

  it(`garbage: "${cb.garbage.message}"`, () => {
    expect(cb.garbage.message).toContain('failed to decode');
    const r = v1.compare(utf8('this is not a protobuf'));
    expect(r.status).toBe('malformed');
    if (r.status === 'malformed') expect(r.error.code).toBe('DECODE');
  });
});

describe('iteration bounds as libsignal (iterationBounds)', () => {
  const b = fingerprintVectors.iterationBounds;
  const node = allProviders.find((p) => p.label === 'node')!.provider;
  const at = (iterations: number) => () =>
    computeSafetyNumber({ local: alice, remote: bob, iterations, provider: node });

  it('libsignal refuses 1 and 1 000 001 and accepts 2 and 1 000 000; so do we', () => {
    expect(b['iterations_1']).toMatchObject({ message: 'Invalid fingerprint iterations 1' });
    expect(b['iterations_1000001']).toMatchObject({ message: 'Invalid fingerprint iterations 1000001' });
    expect(b['iterations_2']).toBe('ok');
    expect(b['iterations_1000000']).toBe('ok');
    expect(MIN_ITERATIONS).toBe(2);
    expect(MAX_ITERATIONS).toBe(1_000_000);
    expect(at(1)).toThrow(RangeError);
    expect(at(1_000_001)).toThrow(RangeError);
    expect(at(0)).toThrow(RangeError);
    expect(at(2.5)).toThrow(RangeError);
    expect(at(2)().digits).toMatch(/^\d{60}$/);
    expect(at(1_000_000)().digits).toMatch(/^\d{60}$/);
  });
});
