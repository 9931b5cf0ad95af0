// Issue 11.1: safety-number's byte-taking entries — identifiers and identity keys, scannable payloads
// (of, deserialize, compare), the QR encoder — on every provider with offset views and pooled Node
// Buffers: libsignal's published digits come out, and the caller's bytes stay untouched and unaliased.
import { fromHex, utf8 } from '@e2ee-kit/core';
import { computeSafetyNumber, ScannableFingerprint } from '@e2ee-kit/safety-number';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf } from '../../../tools/caller-bytes.js';
import { allProviders } from '../../../tools/providers.js';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;

describe.each(allProviders)('provider $label', ({ provider }) => {
  it.each(foreignShapes)("libsignal's published vector from $name inputs", async ({ make }) => {
    const inputs = [
      utf8(pub.aliceIdentifier),
      fromHex(pub.aliceIdentityKeyHex),
      utf8(pub.bobIdentifier),
      fromHex(pub.bobIdentityKeyHex),
    ];
    const sn = await checkCallerBytes(
      make,
      inputs,
      (localId, localKey, remoteId, remoteKey) =>
        computeSafetyNumber({
          local: { identifier: localId, identityKey: localKey },
          remote: { identifier: remoteId, identityKey: remoteKey },
          version: 2,
          iterations: pub.iterations,
          provider,
        }),
      (s) => [s.digits, hexOf(s.scannable.serialize())],
    );
    expect(sn.digits).toBe(pub.displayable);
    expect(hexOf(sn.scannable.serialize())).toBe(pub.v2.aliceScannableHex);

    // Scannable payloads: built from, decoded from and compared with the caller's bytes.
    const local = fromHex(pub.v2.aliceScannableHex);
    const remote = fromHex(pub.v2.bobScannableHex);
    const mine = await checkCallerBytes(
      make,
      [local],
      (b) => ScannableFingerprint.deserialize(b),
      (f) => hexOf(f.serialize()),
      hexOf(local),
    );
    await checkCallerBytes(
      make,
      [mine.localFingerprint, mine.remoteFingerprint],
      (l, r) => ScannableFingerprint.of(2, l, r),
      (f) => hexOf(f.serialize()),
      hexOf(local),
    );
    await checkCallerBytes(
      make,
      [remote],
      (b) => mine.compare(b),
      (r) => r,
      { status: 'match' },
    );
    const qr = await checkCallerBytes(
      make,
      [local],
      (b) => safetyNumberQr(b),
      (q) => hexOf(q.payload),
      hexOf(local),
    );
    expect(qr.modules.length).toBe(qr.size);
  });
});
