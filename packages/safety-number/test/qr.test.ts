// The QR subpath: payload → QR modules → RGBA pixels → jsQR (an independent decoder) → compare().
import { fromHex, toHex, utf8 } from '@e2ee-kit/core';
import { computeSafetyNumber, ScannableFingerprint } from '@e2ee-kit/safety-number';
import { qrTextToPayload, type SafetyNumberQr, safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import fc from 'fast-check';
import jsQR from 'jsqr';
import { describe, expect, it } from 'vitest';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;
const alice = { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) };
const bob = { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) };
const aliceV2 = computeSafetyNumber({ local: alice, remote: bob, version: 2 });
const bobV2 = computeSafetyNumber({ local: bob, remote: alice, version: 2 });

/** Reads the QR back from pixels with jsQR; returns the raw bytes of its data segments. */
function scan(qr: SafetyNumberQr, scale = 4): Uint8Array {
  const img = qr.toRgba({ scale });
  const code = jsQR(img.data, img.width, img.height);
  if (code === null) throw new Error('jsQR found no QR code');
  // One byte-mode segment and nothing else (no ECI header, no text re-encoding).
  expect(code.chunks.map((c) => c.type)).toEqual(['byte']);
  return Uint8Array.from(code.binaryData);
}

describe('QR round trip through jsQR', () => {
  it("Bob scans Alice's QR: exact payload bytes and compare() says match", () => {
    const qr = safetyNumberQr(aliceV2);
    expect(toHex(qr.payload)).toBe(pub.v2.aliceScannableHex);
    const scanned = scan(qr);
    expect(toHex(scanned)).toBe(pub.v2.aliceScannableHex);
    expect(bobV2.compare(scanned)).toEqual({ status: 'match' });
    // And the other way round.
    expect(aliceV2.compare(scan(safetyNumberQr(bobV2.scannable)))).toEqual({ status: 'match' });
  });

  it('a man in the middle: the scanned payload gives mismatch', () => {
    const mallory = { identifier: bob.identifier, identityKey: fromHex(pub.aliceIdentityKeyHex) };
    const seenByAlice = computeSafetyNumber({ local: alice, remote: mallory, version: 2 });
    expect(bobV2.compare(scan(safetyNumberQr(seenByAlice)))).toEqual({ status: 'mismatch' });
  });

  it('the other phone on another version: version-mismatch with both versions', () => {
    const aliceV1 = computeSafetyNumber({ local: alice, remote: bob, version: 1 });
    expect(bobV2.compare(scan(safetyNumberQr(aliceV1)))).toEqual({
      status: 'version-mismatch',
      ours: 2,
      theirs: 1,
    });
  });

  it('any bytes (all 256 values, every ECC level) come back exactly', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const ecc of ['low', 'medium', 'quartile', 'high'] as const) {
      expect(toHex(scan(safetyNumberQr(all, { ecc }), 3))).toBe(toHex(all));
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 120 }), (bytes) => {
        expect(toHex(scan(safetyNumberQr(bytes), 3))).toBe(toHex(bytes));
      }),
      { numRuns: 25 },
    );
  });

  it('qrTextToPayload: ISO-8859-1 text from a text-only scanner back to bytes', () => {
    const bytes = aliceV2.scannable.serialize();
    const latin1 = String.fromCharCode(...bytes);
    expect(bobV2.compare(qrTextToPayload(latin1))).toEqual({ status: 'match' });
    // UTF-8-decoded text (replacement characters) is refused, not silently mangled.
    expect(() => qrTextToPayload('\u00ff\ufffd')).toThrow(expect.objectContaining({ code: 'DECODE' }));
  });
});

/** Dark squares drawn by qr's optimised SVG path: `M x y` / `m dx dy` then `h1v1H x` or `h1v1h-1`, `Z`. */
function svgSquares(svg: string): Set<string> {
  const d = /<path d="([^"]*)"/.exec(svg)?.[1] ?? '';
  const squares = new Set<string>();
  let x = 0;
  let y = 0;
  let consumed = 0;
  for (const m of d.matchAll(/([Mm])(-?\d+) (-?\d+)h1v1(?:H-?\d+|h-1)Z/g)) {
    expect(m.index).toBe(consumed); // nothing unparsed in between
    consumed += m[0].length;
    const dx = Number(m[2]);
    const dy = Number(m[3]);
    if (m[1] === 'M') {
      x = dx;
      y = dy;
    } else {
      x += dx;
      y += dy;
    }
    squares.add(`${x},${y}`);
  }
  expect(consumed).toBe(d.length);
  return squares;
}

describe('module matrix and SVG', () => {
  const qr = safetyNumberQr(aliceV2);

  it('matrix: square, 17 + 4v modules, finder patterns in three corners', () => {
    expect(qr.size).toBe(qr.modules.length);
    expect((qr.size - 17) % 4).toBe(0);
    for (const row of qr.modules) expect(row.length).toBe(qr.size);
    const finder = (x0: number, y0: number) => {
      for (let y = 0; y < 7; y++)
        for (let x = 0; x < 7; x++) {
          const ring = Math.max(Math.abs(x - 3), Math.abs(y - 3));
          expect(qr.modules[y0 + y]?.[x0 + x]).toBe(ring !== 2);
        }
    };
    finder(0, 0);
    finder(qr.size - 7, 0);
    finder(0, qr.size - 7);
  });

  it('SVG draws exactly the matrix, offset by the quiet zone, on a light background', () => {
    for (const quietZone of [1, 4]) {
      const svg = qr.toSvg({ quietZone });
      const side = qr.size + 2 * quietZone;
      expect(svg).toContain(`viewBox="0 0 ${side} ${side}"`);
      expect(svg).toContain('<rect width="100%" height="100%" fill="#fff"/>');
      const expected = new Set<string>();
      qr.modules.forEach((row, y) => {
        row.forEach((dark, x) => {
          if (dark) expected.add(`${x + quietZone},${y + quietZone}`);
        });
      });
      expect(svgSquares(svg)).toEqual(expected);
    }
    expect(qr.toSvg({ background: null })).not.toContain('<rect');
  });

  it('accepts a SafetyNumber / ScannableFingerprint from another copy of the package', () => {
    const foreignSn = { scannable: { serialize: () => aliceV2.scannable.serialize() } };
    expect(safetyNumberQr(foreignSn as never).modules).toEqual(qr.modules);
    expect(safetyNumberQr({ serialize: () => qr.payload } as never).modules).toEqual(qr.modules);
  });

  it('deterministic: same payload, same modules', () => {
    expect(safetyNumberQr(aliceV2.scannable.serialize()).modules).toEqual(qr.modules);
  });

  it('refuses misuse with TypeError / RangeError', () => {
    expect(() => safetyNumberQr('x' as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => safetyNumberQr(new Uint8Array(0))).toThrow(RangeError);
    expect(() => safetyNumberQr(new Uint8Array(2954))).toThrow(RangeError);
    expect(() => safetyNumberQr(aliceV2, { ecc: 'ultra' as 'low' })).toThrow(RangeError);
    expect(() => qr.toRgba({ scale: 0 })).toThrow(RangeError);
    expect(() => qr.toSvg({ quietZone: 0 })).toThrow(RangeError);
    expect(() => qr.toSvg({ background: '"/><script>' })).toThrow(TypeError);
    expect(ScannableFingerprint.deserialize(qr.payload).version).toBe(2);
  });
});

describe('payload size against the chosen error correction', () => {
  // Byte-mode capacity of the largest symbol (version 40, 177 × 177) per level: ISO/IEC 18004 Table 7.
  const CAPACITY = { low: 2953, medium: 2331, quartile: 1663, high: 1273 } as const;

  it.each(Object.entries(CAPACITY))(
    '%s: %i bytes fit a version-40 symbol; one more is a RangeError',
    (ecc, cap) => {
      const level = ecc as keyof typeof CAPACITY;
      expect(safetyNumberQr(new Uint8Array(cap).fill(0xa5), { ecc: level }).size).toBe(177);
      // Refused by the package itself (a RangeError naming the limit), not by the encoder's plain Error.
      expect(() => safetyNumberQr(new Uint8Array(cap + 1), { ecc: level })).toThrow(
        new RangeError(`payload must be 1 to ${cap} bytes with ecc ${level}`),
      );
    },
  );
});

describe('the bytes a QR code is drawn from are its own', () => {
  it('payload bytes from another copy’s serialize() are copied, not kept', () => {
    const theirs = aliceV2.scannable.serialize();
    const qr = safetyNumberQr({ serialize: () => theirs } as never);
    const svg = qr.toSvg();
    expect(qr.payload.buffer).not.toBe(theirs.buffer);
    theirs.fill(0);
    expect(toHex(qr.payload)).toBe(toHex(aliceV2.scannable.serialize()));
    expect(qr.toSvg()).toBe(svg);
  });

  it('writing to .payload does not change what toSvg() draws (it stays the code of modules)', () => {
    const qr = safetyNumberQr(aliceV2);
    const svg = qr.toSvg();
    qr.payload.fill(0x41);
    expect(qr.toSvg()).toBe(svg);
  });
});
