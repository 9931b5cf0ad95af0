import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import {
  BackupErrorCode,
  checkRecoveryKey,
  InvalidRecoveryKeyError,
  importHexRecoveryKey,
  parseRecoveryKey,
  RecoveryKey,
} from '@e2ee-kit/backup-kdf';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { dammInterim, dammTable, recoveryKeySecret } from '../src/recovery-key.js';

const digitsOf = (k: RecoveryKey) => k.toDisplayString().replace(/ /g, '');
const sampleKeys = (n: number, seed: string) => {
  const rnd = createDeterministicRandom(seed);
  return Array.from({ length: n }, () => RecoveryKey.generate(rnd));
};

function checksumFails(text: string) {
  const r = checkRecoveryKey(text);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.reason).toBe('checksum');
  let err: unknown;
  try {
    parseRecoveryKey(text);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidRecoveryKeyError);
  expect((err as InvalidRecoveryKeyError).code).toBe(BackupErrorCode.RecoveryKeyChecksum);
  return r;
}

describe('Damm check digit (the part that guarantees detection)', () => {
  it('the table is a quasigroup with zero diagonal and weakly totally anti-symmetric', () => {
    for (let i = 0; i < 10; i++) {
      expect(new Set(dammTable[i]).size).toBe(10);
      expect(new Set(dammTable.map((r) => r[i])).size).toBe(10);
      expect(dammTable[i]![i]).toBe(0);
    }
    for (let c = 0; c < 10; c++)
      for (let x = 0; x < 10; x++)
        for (let y = 0; y < 10; y++) {
          if (x === y) continue;
          expect(dammTable[dammTable[c]![x]!]![y]).not.toBe(dammTable[dammTable[c]![y]!]![x]);
        }
  });

  it("matches the published example (Damm's algorithm: 572 → check digit 4)", () => {
    expect(dammInterim('572')).toBe(4);
    expect(dammInterim('5724')).toBe(0);
  });
});

describe('64-digit recovery key', () => {
  it('is 64 decimal digits shown as 16 groups of 4, with ≥ 192 bits of key', () => {
    const [k] = sampleKeys(1, 'shape');
    expect(k!.format).toBe('digits64');
    expect(k!.toDisplayString()).toMatch(/^(\d{4} ){15}\d{4}$/);
    // 58 uniformly random digits carry log2(10^58) bits.
    expect(58 * Math.log2(10)).toBeGreaterThanOrEqual(192);
  });

  it('draws digits uniformly by rejection sampling (bytes ≥ 250 are skipped)', () => {
    let calls = 0;
    const rnd = (n: number) => {
      calls++;
      // first call: only rejected bytes; then bytes 0,1,2,…
      return calls === 1 ? new Uint8Array(n).fill(255) : Uint8Array.from({ length: n }, (_, i) => i);
    };
    const k = RecoveryKey.generate(rnd);
    expect(digitsOf(k).slice(0, 58)).toBe(Array.from({ length: 58 }, (_, i) => String(i % 10)).join(''));
  });

  it('check A is SHA-256(label ‖ key digits)[0..8] mod 10^5 (cross-checked with node:crypto)', () => {
    for (const k of sampleKeys(5, 'check-a')) {
      const d = digitsOf(k);
      const h = createHash('sha256')
        .update('backup-kdf/v1/recovery-key-check')
        .update(d.slice(0, 58))
        .digest();
      const a = (h.readBigUInt64BE(0) % 100000n).toString().padStart(5, '0');
      expect(d.slice(58, 63)).toBe(a);
      expect(dammInterim(d)).toBe(0);
    }
  });

  it('every single-digit error and every adjacent swap is detected (exhaustive, 40 sample keys)', () => {
    let substitutions = 0;
    let swaps = 0;
    for (const k of sampleKeys(40, 'exhaustive')) {
      const d = digitsOf(k);
      expect(checkRecoveryKey(d).ok).toBe(true);
      for (let i = 0; i < 64; i++) {
        for (let v = 0; v < 10; v++) {
          if (String(v) === d[i]) continue;
          const typo = d.slice(0, i) + v + d.slice(i + 1);
          // (parseRecoveryKey: detection only; checkRecoveryKey's suggestion search is tested below)
          expect(() => parseRecoveryKey(typo)).toThrow(InvalidRecoveryKeyError);
          substitutions++;
        }
      }
      for (let i = 0; i < 63; i++) {
        if (d[i] === d[i + 1]) continue;
        const typo = d.slice(0, i) + d[i + 1] + d[i] + d.slice(i + 2);
        expect(() => parseRecoveryKey(typo)).toThrow(InvalidRecoveryKeyError);
        swaps++;
      }
    }
    expect(substitutions).toBe(40 * 64 * 9);
    expect(swaps).toBeGreaterThan(40 * 50);
  });

  it('offers the original key as a suggestion (never another one), and never applies it', () => {
    let offered = 0;
    let total = 0;
    for (const k of sampleKeys(3, 'suggest')) {
      const d = digitsOf(k);
      const display = k.toDisplayString();
      const typos: Array<[string, 'substitution' | 'transposition', number]> = [];
      for (let i = 0; i < 64; i++)
        for (let v = 0; v < 10; v++)
          if (String(v) !== d[i]) typos.push([d.slice(0, i) + v + d.slice(i + 1), 'substitution', i]);
      for (let i = 0; i < 63; i++)
        if (d[i] !== d[i + 1])
          typos.push([d.slice(0, i) + d[i + 1] + d[i] + d.slice(i + 2), 'transposition', i]);
      for (const [typo, kind, position] of typos) {
        total++;
        const r = checksumFails(typo);
        if (!r.ok && r.suggestion) {
          offered++;
          expect(r.suggestion.toDisplayString()).toBe(display);
          expect(r.suggestion.kind).toBe(kind);
          expect(r.suggestion.position).toBe(position);
        }
      }
    }
    // A second valid candidate is a ~10⁻⁶ event per candidate: nearly every typo gets its suggestion.
    expect(offered / total).toBeGreaterThan(0.99);
  });

  it('two typos: no suggestion that would be wrong is offered', () => {
    const [k] = sampleKeys(1, 'two-typos');
    const d = digitsOf(k!);
    const flip = (c: string) => String((Number(c) + 1) % 10);
    for (let i = 0; i < 60; i += 7) {
      const typo = d.slice(0, i) + flip(d[i]!) + d.slice(i + 1, i + 3) + flip(d[i + 3]!) + d.slice(i + 4);
      const r = checksumFails(typo);
      if (!r.ok && r.suggestion) expect(r.suggestion.toDisplayString().replace(/ /g, '')).not.toBe(typo);
    }
  });

  it('accepts spaces, hyphens and full-width digits (NFKC); rejects other lengths and characters', () => {
    const [k] = sampleKeys(1, 'formats');
    const d = digitsOf(k!);
    const fullWidth = [...d].map((c) => String.fromCharCode(0xff10 + Number(c))).join('');
    for (const text of [k!.toDisplayString(), d, d.replace(/(\d{4})/g, '$1-'), fullWidth, ` ${d}\n`]) {
      expect(digitsOf(parseRecoveryKey(text))).toBe(d);
    }
    for (const bad of [d.slice(1), `${d}1`, `${d.slice(1)}a`, '', 'x'.repeat(64)]) {
      const r = checkRecoveryKey(bad);
      expect(r).toEqual({ ok: false, reason: 'format' });
      expect(() => parseRecoveryKey(bad)).toThrow(
        expect.objectContaining({ code: BackupErrorCode.RecoveryKeyFormat }),
      );
    }
  });

  it('cannot be constructed directly (only generate / parse / import make keys)', () => {
    expect(() => new RecoveryKey('digits64', '1'.repeat(64))).toThrow(TypeError);
    expect(RecoveryKey.isRecoveryKey({ format: 'digits64' })).toBe(false);
  });

  it('never shows its digits through toString, JSON or inspection; errors carry no digits', () => {
    const [k] = sampleKeys(1, 'leak');
    const d = digitsOf(k!);
    for (const s of [String(k), JSON.stringify({ k }), inspect(k, { showHidden: true, depth: 5 })]) {
      expect(s).not.toContain(d.slice(0, 8));
    }
    const typo = (d[0] === '1' ? '2' : '1') + d.slice(1);
    try {
      parseRecoveryKey(typo);
    } catch (e) {
      const err = e as Error;
      expect(`${err.message} ${String(err)} ${JSON.stringify(err)}`).not.toContain(d.slice(1, 9));
    }
  });
});

describe('WhatsApp-style 64-hex key (explicit import)', () => {
  const hex = 'b1ef5568c3f4a9e7d1c2b3a4958677f8091a2b3c4d5e6f708192a3b4c5d67c11';
  it('imports 64 hex characters as a 32-byte key', () => {
    const k = importHexRecoveryKey(hex.toUpperCase().replace(/(.{4})/g, '$1 '));
    expect(k.format).toBe('hex64');
    expect(k.toDisplayString().replace(/ /g, '')).toBe(hex);
    expect(recoveryKeySecret(k)).toEqual(Uint8Array.from(Buffer.from(hex, 'hex')));
  });
  it('is not accepted by the 64-digit parser, and the hex importer refuses other lengths', () => {
    expect(checkRecoveryKey(hex)).toEqual({ ok: false, reason: 'format' });
    expect(() => importHexRecoveryKey(hex.slice(2))).toThrow(InvalidRecoveryKeyError);
    expect(() => importHexRecoveryKey(`${hex.slice(1)}g`)).toThrow(InvalidRecoveryKeyError);
  });
});
