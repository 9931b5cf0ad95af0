// Garbage in: every public function answers with a value, a TypeError/RangeError (misuse) or an
// E2eeError (data) — never another exception, a hang or a huge allocation.
import { E2eeError, fromHex } from '@e2ee-kit/core';
import {
  aciIdentifier,
  computeSafetyNumber,
  e164Identifier,
  formatSafetyNumber,
  parseSafetyNumber,
  ScannableFingerprint,
  safetyNumberGroups,
} from '@e2ee-kit/safety-number';
import { qrTextToPayload, safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { describe, expect, it } from 'vitest';

const garbage: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  -0,
  -1,
  1.5,
  2 ** 32,
  2 ** 53,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  10n,
  '',
  'abc',
  '0'.repeat(60),
  '1'.repeat(100_000),
  '\ud800',
  Symbol('s'),
  {},
  [],
  [1, 2, 3],
  Object.create(null),
  () => 1,
  new Date(0),
  new ArrayBuffer(33),
  new Uint16Array(33),
  new Int8Array(33),
  new Uint8Array(0),
  new Uint8Array(33),
  new Uint8Array(33).fill(5),
  new Uint8Array(74),
  new Uint8Array(100_000).fill(0xff),
  { serialize: () => 'not bytes' },
  { serialize: () => new Uint8Array(33) },
  { identifier: 'x', identityKey: 'y' },
  { ecc: 'nope', scale: -1, quietZone: 1e9, separator: 5, groupsPerLine: 1e9, background: 7 },
  { name: 'fake', randomBytes: () => 1, hkdfSha256: () => 1 },
];

function expectOnlyTypedFailures(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    const ok = err instanceof TypeError || err instanceof RangeError || E2eeError.is(err);
    if (!ok) throw new Error(`unexpected ${String(err)}`);
  }
}

const key = fromHex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868');
const party = { identifier: new Uint8Array(16), identityKey: key };
const base = { local: party, remote: party, iterations: 2 };
const sn = computeSafetyNumber(base);
const qr = safetyNumberQr(sn);
const digits = sn.digits;

const calls: Array<[string, (g: unknown) => unknown]> = [
  ['computeSafetyNumber(g)', (g) => computeSafetyNumber(g as never)],
  ['computeSafetyNumber({local: g})', (g) => computeSafetyNumber({ ...base, local: g as never })],
  ['computeSafetyNumber({remote: g})', (g) => computeSafetyNumber({ ...base, remote: g as never })],
  ['identifier: g', (g) => computeSafetyNumber({ ...base, local: { ...party, identifier: g as never } })],
  ['identityKey: g', (g) => computeSafetyNumber({ ...base, remote: { ...party, identityKey: g as never } })],
  ['version: g', (g) => computeSafetyNumber({ ...base, version: g as never })],
  ['iterations: g', (g) => computeSafetyNumber({ ...base, iterations: g as never })],
  ['provider: g', (g) => computeSafetyNumber({ ...base, provider: g as never })],
  ['parseSafetyNumber', (g) => parseSafetyNumber(g as never)],
  ['formatSafetyNumber(g)', (g) => formatSafetyNumber(g as never)],
  ['formatSafetyNumber(d, g)', (g) => formatSafetyNumber(digits, g as never)],
  ['safetyNumberGroups', (g) => safetyNumberGroups(g as never)],
  ['aciIdentifier', (g) => aciIdentifier(g as never)],
  ['e164Identifier', (g) => e164Identifier(g as never)],
  [
    'ScannableFingerprint.of(g, …)',
    (g) => ScannableFingerprint.of(g as never, new Uint8Array(32), new Uint8Array(32)),
  ],
  ['ScannableFingerprint.of(2, g, g)', (g) => ScannableFingerprint.of(2, g as never, g as never)],
  ['ScannableFingerprint.deserialize', (g) => ScannableFingerprint.deserialize(g as never)],
  ['scannable.compare', (g) => sn.scannable.compare(g as never)],
  ['safetyNumber.compare', (g) => sn.compare(g as never)],
  ['safetyNumber.compareDigits', (g) => sn.compareDigits(g as never)],
  ['safetyNumber.format', (g) => sn.format(g as never)],
  ['safetyNumberQr(g)', (g) => safetyNumberQr(g as never)],
  ['safetyNumberQr(sn, g)', (g) => safetyNumberQr(sn, g as never)],
  ['qr.toSvg', (g) => qr.toSvg(g as never)],
  ['qr.toRgba', (g) => qr.toRgba(g as never)],
  ['qrTextToPayload', (g) => qrTextToPayload(g as never)],
];

describe('garbage input', () => {
  for (const [name, call] of calls) {
    it(name, () => {
      for (const g of garbage) expectOnlyTypedFailures(() => call(g));
    });
  }

  it('compare never throws on bytes, whatever they are', () => {
    for (const g of garbage) {
      if (g instanceof Uint8Array) expect(typeof sn.compare(g).status).toBe('string');
    }
  });
});
