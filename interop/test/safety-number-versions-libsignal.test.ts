// Safety numbers against libsignal-client 0.90.0 and 0.72.1, live (the 0.103.0 run, with hostile
// payloads, is safety-number-libsignal.test.ts): for random pairs (ACI bytes or E.164 text, versions
// 1 and 2), the same 60 digits and scannable bytes from both sides, and compare() of ours decides as
// libsignal's on the other side's payload, a fooled one and the other version. Our inputs are pooled
// Node Buffers, checked unchanged afterwards.
import { toHex } from '@e2ee-kit/core';
import { type CompareResult, computeSafetyNumber, ScannableFingerprint } from '@e2ee-kit/safety-number';
import { afterAll, describe, expect, it } from 'vitest';
import { type LibHandle, libs, toLib } from '../src/libsignal.js';

const PAIRS = 6;
const ITERATIONS = 5200;

const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  if (buffer.buffer.byteLength !== Buffer.poolSize) throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}
afterAll(() => {
  expect(handedOut.length).toBeGreaterThan(4 * PAIRS);
  for (const { buffer, hex } of handedOut) expect(buffer.toString('hex')).toBe(hex);
});

type Outcome = CompareResult['status'] | `version-mismatch ${number}/${number}`;

function ourOutcome(r: CompareResult): Outcome {
  return r.status === 'version-mismatch' ? `version-mismatch ${r.ours}/${r.theirs}` : r.status;
}

describe.each([libs.lib90, libs.lib72].map((l) => [l.version, l] as const))(
  'safety numbers with libsignal-client %s, Buffer inputs on our side',
  (_version, lib: LibHandle) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);
    /** libsignal's compare as one of our statuses (it throws for a version mismatch). */
    const libOutcome = (mine: Uint8Array, theirs: Uint8Array): Outcome => {
      const own = m.ScannableFingerprint._fromBuffer(b(mine));
      try {
        return own.compare(m.ScannableFingerprint._fromBuffer(b(theirs))) ? 'match' : 'mismatch';
      } catch (err) {
        const vm = /fingerprint version number mismatch them (\d+) us (\d+)/.exec(
          String((err as Error).message),
        );
        if (vm) return `version-mismatch ${Number(vm[2])}/${Number(vm[1])}`;
        throw err;
      }
    };

    it(`${PAIRS} random pairs: same digits and scannable bytes, compare() decides as libsignal`, () => {
      const seen = new Set<Outcome>();
      for (let i = 0; i < PAIRS; i++) {
        const version = 1 + (i % 2);
        const id = (): Uint8Array =>
          i % 3 === 2
            ? new TextEncoder().encode(`+1555${String(1_000_000 + i).padStart(7, '0')}`)
            : crypto.getRandomValues(new Uint8Array(16));
        const a = { id: id(), key: m.PrivateKey.generate().getPublicKey() };
        const c = { id: id(), key: m.PrivateKey.generate().getPublicKey() };
        const mitm = m.PrivateKey.generate().getPublicKey();
        const libA = m.Fingerprint.new(ITERATIONS, version, b(a.id), a.key, b(c.id), c.key);
        const libC = m.Fingerprint.new(ITERATIONS, version, b(c.id), c.key, b(a.id), a.key);
        const party = (p: typeof a) => ({ identifier: pooled(p.id), identityKey: pooled(p.key.serialize()) });
        const opts = { version, iterations: ITERATIONS };
        const ourA = computeSafetyNumber({ local: party(a), remote: party(c), ...opts });
        const ourC = computeSafetyNumber({ local: party(c), remote: party(a), ...opts });
        const fooled = computeSafetyNumber({
          local: party(a),
          remote: { identifier: pooled(c.id), identityKey: pooled(mitm.serialize()) },
          ...opts,
        });
        expect(ourA.digits).toBe(libA.displayableFingerprint().toString());
        expect(ourC.digits).toBe(libC.displayableFingerprint().toString());
        expect(toHex(ourA.scannable.serialize())).toBe(toHex(libA.scannableFingerprint().toBuffer()));
        expect(toHex(ourC.scannable.serialize())).toBe(toHex(libC.scannableFingerprint().toBuffer()));

        const otherVersion = ScannableFingerprint.of(
          3 - version,
          ourA.scannable.localFingerprint,
          ourA.scannable.remoteFingerprint,
        ).serialize();
        const cases: Array<[typeof ourA, Uint8Array]> = [
          [ourC, ourA.scannable.serialize()],
          [ourA, ourC.scannable.serialize()],
          [ourA, ourA.scannable.serialize()],
          [ourC, fooled.scannable.serialize()],
          [ourC, otherVersion],
        ];
        for (const [ours, theirs] of cases) {
          const expected = libOutcome(ours.scannable.serialize(), theirs);
          expect(ourOutcome(ours.compare(pooled(theirs)))).toBe(expected);
          seen.add(expected.startsWith('version') ? 'version-mismatch' : expected);
        }
      }
      expect([...seen].sort()).toEqual(['match', 'mismatch', 'version-mismatch']);
    });
  },
);
