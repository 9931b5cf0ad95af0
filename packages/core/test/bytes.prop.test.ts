// Property tests for hex/base64 with Node's Buffer as the independent oracle.
import { constantTimeEqual, fromBase64, fromHex, toBase64, toHex } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, it } from 'vitest';

const runs = { numRuns: 300 };

describe('bytes properties', () => {
  it('toHex matches Buffer and fromHex inverts it', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const h = toHex(b);
        return h === Buffer.from(b).toString('hex') && Buffer.from(fromHex(h)).equals(Buffer.from(b));
      }),
      runs,
    );
  });

  it('toBase64 matches Buffer and fromBase64 inverts it (standard and URL-safe, padded or not)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        const s = toBase64(b);
        const buf = Buffer.from(b);
        return (
          s === buf.toString('base64') &&
          buf.equals(Buffer.from(fromBase64(s))) &&
          buf.equals(Buffer.from(fromBase64(buf.toString('base64url'))))
        );
      }),
      runs,
    );
  });

  it('fromBase64 on arbitrary strings returns bytes or throws RangeError, nothing else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        try {
          return fromBase64(s) instanceof Uint8Array;
        } catch (e) {
          return e instanceof RangeError;
        }
      }),
      runs,
    );
  });

  it('constantTimeEqual agrees with Buffer.equals', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), (a, b) => {
        return (
          constantTimeEqual(a, b) === Buffer.from(a).equals(Buffer.from(b)) && constantTimeEqual(a, a.slice())
        );
      }),
      runs,
    );
  });
});
