// Live interop of @e2ee-kit/safety-number with @signalapp/libsignal-client 0.103.0 (issue 5, point 4):
// 100 random key pairs and identifiers (ACI bytes, E.164 text, arbitrary bytes; versions 1 and 2;
// mostly 5200 iterations), computed from both sides by both libraries:
// - identical 60 digits and identical scannable bytes;
// - libsignal's compare() and ours agree on our payloads: matching, mismatching (another key, another
//   identifier, the same side), the other version, and mutated / hand-built edge-case bytes.
// A second block decides, case by case on one fixed pair, every bit flip, truncation and protobuf
// trick (compare() and deserialize()) as libsignal does.
// Seeded: the seed is printed; rerun with E2EE_INTEROP_SEED=<seed> to reproduce.
import { DecodeError, platformProvider, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import {
  type CompareResult,
  computeSafetyNumber,
  DEFAULT_ITERATIONS,
  type SafetyNumber,
  ScannableFingerprint,
} from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { lib103 } from '../src/libsignal.js';

/** Every provider, plus the opt-in WebAssembly SHA-512 entry of the safety-number package. */
const providers = [
  ...allProviders,
  { label: 'platform+wasm-sha512', provider: await withWasmSha512(platformProvider) },
];

const PAIRS = 100;
const envSeed = process.env['E2EE_INTEROP_SEED'];
const seed = envSeed !== undefined && envSeed !== '' ? envSeed : String(Math.floor(Math.random() * 2 ** 32));
console.log(`[interop] safety-number seed ${seed} (reproduce with E2EE_INTEROP_SEED=${seed})`);
const random = createDeterministicRandom(`safety-number:${seed}`);
const int = (n: number): number => {
  const b = random(4);
  return (((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0) % n;
};
const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);

type Outcome = CompareResult['status'] | `version-mismatch ${number}/${number}`;

/** libsignal's compare as one of our statuses (it throws for version mismatch and parse errors). */
function libOutcome(ours: Uint8Array, theirs: Uint8Array): Outcome {
  const mine = lib103.ScannableFingerprint._fromBuffer(ab(ours));
  try {
    return mine.compare(lib103.ScannableFingerprint._fromBuffer(ab(theirs))) ? 'match' : 'mismatch';
  } catch (err) {
    const msg = String((err as Error).message);
    const vm = /fingerprint version number mismatch them (\d+) us (\d+)/.exec(msg);
    if (vm) return `version-mismatch ${Number(vm[2])}/${Number(vm[1])}`;
    if (/fingerprint parsing error/.test(msg)) return 'malformed';
    throw err;
  }
}

function ourOutcome(sn: SafetyNumber, theirs: Uint8Array): Outcome {
  const r = sn.compare(theirs);
  return r.status === 'version-mismatch' ? `version-mismatch ${r.ours}/${r.theirs}` : r.status;
}

function randomIdentifier(): { bytes: Uint8Array; kind: string } {
  switch (int(3)) {
    case 0:
      return { bytes: random(16), kind: 'aci' };
    case 1: {
      const digits = Array.from({ length: 11 }, () => String(int(10))).join('');
      return { bytes: new TextEncoder().encode(`+1${digits.slice(1)}`), kind: 'e164' };
    }
    default:
      return { bytes: random(int(48)), kind: 'bytes' };
  }
}

function randomKey() {
  return lib103.PrivateKey.deserialize(ab(random(32))).getPublicKey();
}

/** Byte strings derived from a valid payload that exercise the decoder. */
function mutations(payload: Uint8Array, other: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < 6; i++) {
    const m = payload.slice();
    m[int(m.length)]! ^= 1 << int(8);
    out.push(m);
  }
  out.push(payload.subarray(0, int(payload.length)));
  out.push(new Uint8Array([...payload, ...random(int(8))]));
  out.push(new Uint8Array([...payload.subarray(0, 2), ...random(int(80))]));
  out.push(random(int(100)));
  out.push(new Uint8Array([...payload.subarray(0, 38), ...other.subarray(38)]));
  return out;
}

/** Field 9 as a group, `depth` groups nested in each other, closed properly. */
function nestedGroups(depth: number): number[] {
  return [...new Array(depth).fill(0x4b), ...new Array(depth).fill(0x4c)];
}

/** The payload with `extra` bytes appended inside the local LogicalFingerprint. */
function withInLocal(p: Uint8Array, extra: number[]): Uint8Array {
  const inner = [...p.subarray(4, 38), ...extra];
  const len = inner.length < 0x80 ? [inner.length] : [(inner.length & 0x7f) | 0x80, inner.length >> 7];
  return new Uint8Array([...p.subarray(0, 2), 0x12, ...len, ...inner, ...p.subarray(38)]);
}

const HAND_BUILT: Array<[string, (p: Uint8Array) => Uint8Array]> = [
  ['empty', () => new Uint8Array(0)],
  ['version only', (p) => p.subarray(0, 2)],
  ['no version', (p) => p.subarray(2)],
  ['unknown varint field appended', (p) => new Uint8Array([...p, 0x50, 0x07])],
  ['unknown bytes field appended', (p) => new Uint8Array([...p, 0x4a, 0x01, 0x78])],
  [
    'fixed32 / fixed64 unknown fields',
    (p) => new Uint8Array([...p, 0x4d, 1, 2, 3, 4, 0x51, 1, 2, 3, 4, 5, 6, 7, 8]),
  ],
  ['unknown group field appended', (p) => new Uint8Array([...p, 0x4b, 0x50, 0x01, 0x4c])],
  ['unterminated group', (p) => new Uint8Array([...p, 0x4b, 0x50, 0x01])],
  [
    'field order reversed',
    (p) => new Uint8Array([...p.subarray(38), ...p.subarray(2, 38), ...p.subarray(0, 2)]),
  ],
  ['local repeated (merge)', (p) => new Uint8Array([...p.subarray(0, 38), ...p.subarray(2)])],
  ['empty second remote', (p) => new Uint8Array([...p, 0x1a, 0x00])],
  ['empty local message', (p) => new Uint8Array([...p.subarray(0, 2), 0x12, 0x00, ...p.subarray(38)])],
  [
    'identifier (field 2) inside local',
    (p) => {
      const inner = [0x0a, 0x20, ...p.subarray(6, 38), 0x12, 0x01, 0x41];
      return new Uint8Array([...p.subarray(0, 2), 0x12, inner.length, ...inner, ...p.subarray(38)]);
    },
  ],
  [
    'short local content',
    (p) =>
      new Uint8Array([...p.subarray(0, 2), 0x12, 0x21, 0x0a, 0x1f, ...p.subarray(6, 37), ...p.subarray(38)]),
  ],
  [
    'version 2^32 + v (uint32 truncation)',
    (p) => new Uint8Array([0x08, 0x80 | p[1]!, 0x80, 0x80, 0x80, 0x10, ...p.subarray(2)]),
  ],
  [
    'version as a 10-byte varint',
    (p) =>
      new Uint8Array([
        0x08,
        0x80 | p[1]!,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x80,
        0x01,
        ...p.subarray(2),
      ]),
  ],
  [
    'version varint 11 bytes',
    (p) => new Uint8Array([0x08, ...new Array(10).fill(0x80), 0x00, ...p.subarray(2)]),
  ],
  ['version with wrong wire type', (p) => new Uint8Array([0x0a, 0x01, p[1]!, ...p.subarray(2)])],
  ['field number 0', (p) => new Uint8Array([...p, 0x00, 0x00])],
  ['wire type 6', (p) => new Uint8Array([...p, 0x4e])],
  ['overlong length', (p) => new Uint8Array([...p.subarray(0, 2), 0x12, 0x7f, ...p.subarray(4)])],
  // prost's recursion limit (100): groups nested 100 deep pass at the top level, 101 do not; inside a
  // LogicalFingerprint (one level down already) 99 pass and 100 do not.
  ['100 nested unknown groups', (p) => new Uint8Array([...p, ...nestedGroups(100)])],
  ['101 nested unknown groups', (p) => new Uint8Array([...p, ...nestedGroups(101)])],
  ['99 nested groups inside local', (p) => withInLocal(p, nestedGroups(99))],
  ['100 nested groups inside local', (p) => withInLocal(p, nestedGroups(100))],
  ['stray end-group tag', (p) => new Uint8Array([...p, 0x4c])],
  ['group closed by another field number', (p) => new Uint8Array([...p, 0x4b, 0x54])],
  ['non-minimal version varint', (p) => new Uint8Array([0x08, 0x80 | p[1]!, 0x00, ...p.subarray(2)])],
];

describe('safety numbers against libsignal-client 0.103.0 (live)', () => {
  it(`${PAIRS} random pairs: same digits, same scannable bytes, same compare() outcomes`, () => {
    const tally = new Map<Outcome, number>();
    const count = (o: Outcome) => tally.set(o, (tally.get(o) ?? 0) + 1);
    let previous: { ours: SafetyNumber; payload: Uint8Array } | undefined;

    for (let i = 0; i < PAIRS; i++) {
      const { provider, label } = providers[i % providers.length]!;
      const version = 1 + int(2);
      const iterations = i % 5 === 4 ? 2 + int(3000) : DEFAULT_ITERATIONS;
      const a = { id: randomIdentifier(), key: randomKey() };
      const b = { id: randomIdentifier(), key: randomKey() };
      const ctx = `pair ${i} (${label}, v${version}, ${iterations} it, ${a.id.kind}/${b.id.kind})`;

      const libA = lib103.Fingerprint.new(iterations, version, ab(a.id.bytes), a.key, ab(b.id.bytes), b.key);
      const libB = lib103.Fingerprint.new(iterations, version, ab(b.id.bytes), b.key, ab(a.id.bytes), a.key);
      const opts = { version, iterations, provider };
      const partyA = { identifier: a.id.bytes, identityKey: a.key.serialize() };
      const partyB = { identifier: b.id.bytes, identityKey: b.key.serialize() };
      const ourA = computeSafetyNumber({ local: partyA, remote: partyB, ...opts });
      const ourB = computeSafetyNumber({ local: partyB, remote: partyA, ...opts });

      expect(ourA.digits, ctx).toBe(libA.displayableFingerprint().toString());
      expect(ourB.digits, ctx).toBe(libB.displayableFingerprint().toString());
      const payloadA = ourA.scannable.serialize();
      const payloadB = ourB.scannable.serialize();
      expect(toHex(payloadA), ctx).toBe(toHex(libA.scannableFingerprint().toBuffer()));
      expect(toHex(payloadB), ctx).toBe(toHex(libB.scannableFingerprint().toBuffer()));

      // A man in the middle: A sees mitm's key in B's place.
      const mitm = randomKey();
      const ourAFooled = computeSafetyNumber({
        local: partyA,
        remote: { identifier: b.id.bytes, identityKey: mitm.serialize() },
        ...opts,
        provider: nodeProvider,
      });
      const otherVersion = ScannableFingerprint.of(
        3 - version,
        ourA.scannable.localFingerprint,
        ourA.scannable.remoteFingerprint,
      );

      const cases: Array<[string, SafetyNumber, Uint8Array]> = [
        ['B scans A', ourB, payloadA],
        ['A scans B', ourA, payloadB],
        ['A scans itself', ourA, payloadA],
        ['B scans fooled A', ourB, ourAFooled.scannable.serialize()],
        ['fooled A scans B', ourAFooled, payloadB],
        ['B scans A on the other version', ourB, otherVersion.serialize()],
      ];
      if (previous) cases.push(['B scans another pair', ourB, previous.payload]);
      for (const m of mutations(payloadA, payloadB)) cases.push(['B scans mutated A', ourB, m]);
      for (const [name, build] of HAND_BUILT) cases.push([`B scans A: ${name}`, ourB, build(payloadA)]);

      for (const [name, ours, theirs] of cases) {
        const expected = libOutcome(ours.scannable.serialize(), theirs);
        expect(ourOutcome(ours, theirs), `${ctx}: ${name} [${toHex(theirs)}]`).toBe(expected);
        count(expected);
      }
      expect(ourOutcome(ourB, payloadA)).toBe('match');
      previous = { ours: ourA, payload: payloadA };
    }
    // Every kind of outcome was exercised, many times.
    console.log('[interop] safety-number compare outcomes', Object.fromEntries(tally));
    expect(tally.get('match')).toBeGreaterThanOrEqual(2 * PAIRS);
    expect(tally.get('mismatch')).toBeGreaterThanOrEqual(3 * PAIRS);
    expect(tally.get('malformed')).toBeGreaterThanOrEqual(PAIRS);
    expect([...tally.keys()].some((k) => k.startsWith('version-mismatch'))).toBe(true);
  });
});

// Every decision, exhaustively, on one fixed pair: each bit of a valid payload flipped, every
// truncation, and hand-built protobuf tricks. libsignal throws two distinct errors (version mismatch
// with both numbers, parsing error) or returns a boolean; each maps to exactly one of our statuses.
describe('compare() of hostile payloads decides as libsignal-client 0.103.0, case by case', () => {
  const fixed = createDeterministicRandom('safety-number:hostile');
  const key = () => lib103.PrivateKey.deserialize(ab(fixed(32))).getPublicKey();
  const [aKey, bKey] = [key(), key()];
  const [aId, bId] = [fixed(16), fixed(16)];
  const ITER = 50;
  const ourA = computeSafetyNumber({
    local: { identifier: aId, identityKey: aKey.serialize() },
    remote: { identifier: bId, identityKey: bKey.serialize() },
    iterations: ITER,
  });
  const ourB = computeSafetyNumber({
    local: { identifier: bId, identityKey: bKey.serialize() },
    remote: { identifier: aId, identityKey: aKey.serialize() },
    iterations: ITER,
  });
  const pa = ourA.scannable.serialize();
  const aLocal = [...ourA.scannable.localFingerprint];
  const aRemote = [...ourA.scannable.remoteFingerprint];
  /** varint bytes of n (minimal), then `pad` extra continuation bytes (a non-minimal encoding). */
  const v = (n: number, pad = 0): number[] => {
    const out: number[] = [];
    for (; n >= 0x80; n = Math.floor(n / 0x80)) out.push((n % 0x80) | 0x80);
    if (pad === 0) return [...out, n];
    return [...out, n | 0x80, ...new Array(pad - 1).fill(0x80), 0x00];
  };
  const content = (bytes: number[]): number[] => [0x0a, ...v(bytes.length), ...bytes];
  const logical = (tag: number, inner: number[]): number[] => [tag, ...v(inner.length), ...inner];
  const ver = (n: number, pad = 0) => [0x08, ...v(n, pad)];
  const bytesOf = (...parts: Array<number | ArrayLike<number>>) =>
    new Uint8Array(parts.flatMap((p) => (typeof p === 'number' ? [p] : [...Array.from(p)])));
  const build = (version: number[], local: number[], remote: number[]): Uint8Array =>
    bytesOf(version, logical(0x12, content(local)), logical(0x1a, content(remote)));
  const [V2, L, R] = [ver(2), logical(0x12, content(aLocal)), logical(0x1a, content(aRemote))];
  const inLocal = (...extra: number[]) => bytesOf(V2, logical(0x12, [...content(aLocal), ...extra]), R);

  const tricks: Array<[string, Uint8Array]> = [
    ['the payload as computed', pa],
    ['version 0', build(ver(0), aLocal, aRemote)],
    ['version 1 (one low)', build(ver(1), aLocal, aRemote)],
    ['version 3 (one high)', build(ver(3), aLocal, aRemote)],
    ['version 2^31', build(ver(2 ** 31), aLocal, aRemote)],
    ['version 2^32 − 1', build(ver(2 ** 32 - 1), aLocal, aRemote)],
    ['version 2^32 + 2 (truncates to 2)', build(ver(2 ** 32 + 2), aLocal, aRemote)],
    ['version 2^53 + 2', build(ver(2 ** 53 + 2), aLocal, aRemote)],
    ['version 2 padded to 10 bytes', build(ver(2, 9), aLocal, aRemote)],
    ['version 2 padded to 11 bytes', build(ver(2, 10), aLocal, aRemote)],
    ['version absent', build([], aLocal, aRemote)],
    ['version repeated: wrong then right (last wins)', build([...ver(7), ...V2], aLocal, aRemote)],
    ['version repeated: right then wrong', build([...V2, ...ver(7)], aLocal, aRemote)],
    ['version as fixed32', build([0x0d, 2, 0, 0, 0], aLocal, aRemote)],
    ['version key padded (0x88 0x00)', build([0x88, 0x00, 0x02], aLocal, aRemote)],
    ['version as a packed (length-delimited) field', build([0x0a, 0x01, 0x02], aLocal, aRemote)],
    ['parties swapped', build(V2, aRemote, aLocal)],
    ['the same fingerprint on both sides (ours)', build(V2, aLocal, aLocal)],
    ['the same fingerprint on both sides (theirs)', build(V2, aRemote, aRemote)],
    ['local content 31 bytes', build(V2, aLocal.slice(0, 31), aRemote)],
    ['local content 33 bytes', build(V2, [...aLocal, 0], aRemote)],
    ['local content 64 bytes', build(V2, [...aLocal, ...aLocal], aRemote)],
    ['local content empty', build(V2, [], aRemote)],
    ['remote content 31 bytes', build(V2, aLocal, aRemote.slice(0, 31))],
    ['remote content 33 bytes', build(V2, aLocal, [...aRemote, 0])],
    ['lengths padded (0xa3 0x00, 0xa0 0x00)', bytesOf(V2, 0x12, 0xa3, 0x00, 0x0a, 0xa0, 0x00, aLocal, R)],
    ['local message absent', bytesOf(V2, R)],
    ['remote message absent', bytesOf(V2, L)],
    ['local message without content', bytesOf(V2, 0x12, 0x00, R)],
    [
      'local content repeated: wrong then right (last wins)',
      bytesOf(V2, logical(0x12, [...content(aRemote), ...content(aLocal)]), R),
    ],
    ['local content repeated: right then wrong', inLocal(...content(aRemote))],
    ['local message repeated: right then wrong (merged)', bytesOf(pa, logical(0x12, content(aRemote)))],
    ['local message repeated: second empty (merge keeps the content)', bytesOf(pa, 0x12, 0x00)],
    [
      'unknown varint, fixed64, fixed32, bytes fields',
      bytesOf(pa, 0x20, 1, 0x29, new Array(8).fill(7), 0x35, 1, 2, 3, 4, 0x3a, 0),
    ],
    ['unknown field 2^29 − 1', bytesOf(pa, 0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00)],
    ['field number 2^29 (key above uint32)', bytesOf(pa, 0x80, 0x80, 0x80, 0x80, 0x10, 0x00)],
    ['unknown group with content', bytesOf(pa, 0x23, 0x08, 0x01, 0x12, 0x00, 0x24)],
    ['group start as the version field', bytesOf(0x0b, 0x0c, pa.subarray(2))],
    ['group end as the local field', bytesOf(V2, 0x14, pa.subarray(2))],
    ['unknown group inside local', inLocal(0x1b, 0x1c)],
    ['unknown group inside local, unterminated', inLocal(0x1b)],
    ['local length one short (content overruns it)', bytesOf(V2, 0x12, 0x21, content(aLocal), R)],
    ['local length one long (swallows a byte of remote)', bytesOf(V2, 0x12, 0x23, content(aLocal), R)],
    ['trailing zero byte', bytesOf(pa, 0x00)],
    ['trailing unterminated varint', bytesOf(pa, 0x80)],
  ];
  const truncations = Array.from(
    { length: pa.length },
    (_, n) => [`first ${n} bytes`, pa.slice(0, n)] as [string, Uint8Array],
  );
  const flips: Array<[string, Uint8Array]> = [];
  for (let i = 0; i < pa.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const m = pa.slice();
      m[i]! ^= 1 << bit;
      flips.push([`byte ${i} bit ${bit} flipped`, m]);
    }
  }

  it.each([
    ['B scans A', ourB],
    ['A scans itself', ourA],
  ] as const)('%s: every bit flip, truncation and protobuf trick', (_label, scanner) => {
    const tally = new Map<string, number>();
    for (const [name, bytes] of [...tricks, ...truncations, ...flips]) {
      const expected = libOutcome(scanner.scannable.serialize(), bytes);
      expect(ourOutcome(scanner, bytes), `${name} [${toHex(bytes)}]`).toBe(expected);
      tally.set(expected, (tally.get(expected) ?? 0) + 1);
    }
    // Not vacuous: each of libsignal's answers occurs.
    for (const k of ['match', 'mismatch', 'malformed', 'version-mismatch 2/0', 'version-mismatch 2/3']) {
      expect(tally.get(k), k).toBeGreaterThan(0);
    }
  });

  it('deserialize() accepts exactly what libsignal accepts as its own payload, and then decides as it does', () => {
    const pb = ourB.scannable.serialize();
    let accepted = 0;
    for (const [name, bytes] of [...tricks, ...truncations, ...flips]) {
      // libsignal parses its own side first; its errors there do not say "their".
      let libAccepts = true;
      try {
        lib103.ScannableFingerprint._fromBuffer(ab(bytes)).compare(
          lib103.ScannableFingerprint._fromBuffer(ab(pb)),
        );
      } catch (err) {
        const msg = String((err as Error).message);
        if (/fingerprint parsing error/.test(msg) && !/their/.test(msg)) libAccepts = false;
      }
      let ours: ScannableFingerprint | undefined;
      try {
        ours = ScannableFingerprint.deserialize(bytes);
      } catch (err) {
        expect(err, name).toBeInstanceOf(DecodeError);
      }
      expect(ours !== undefined, `${name} [${toHex(bytes)}]`).toBe(libAccepts);
      if (ours === undefined) continue;
      accepted++;
      const r = ours.compare(pb);
      const got = r.status === 'version-mismatch' ? `version-mismatch ${r.ours}/${r.theirs}` : r.status;
      expect(got, name).toBe(libOutcome(bytes, pb));
    }
    expect(accepted).toBeGreaterThan(10);
  });
});
