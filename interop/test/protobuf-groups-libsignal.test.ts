// Unknown protobuf groups in wire messages, decided as libsignal-client 0.103.0 decides them (prost's
// skip_field): for each message kind we parse with core's ProtoReader, the same bytes with a group
// spliced in are accepted by us exactly when libsignal's deserializer accepts them. Each case's
// expected outcome is also written down from prost's rules, so a change on either side shows.
import { KeyPair, nobleProvider, xeddsaSign } from '@e2ee-kit/core';
import { SenderCertificate, ServerCertificate } from '@e2ee-kit/sealed-sender';
import { SenderKeyDistributionMessage, SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';

const start = (field: number) => field * 8 + 3;
const end = (field: number) => field * 8 + 4;
const nested = (depth: number, inner: number[] = []) => [
  ...new Array(depth).fill(start(9)),
  ...inner,
  ...new Array(depth).fill(end(9)),
];

/** Unknown-field groups, each with prost's decision (accepted or not). */
const CASES: Array<[string, number[], boolean]> = [
  ['empty group', [start(9), end(9)], true],
  [
    'group of every wire type',
    [start(9), 0x08, 1, 0x1a, 1, 0xaa, 0x25, 1, 2, 3, 4, start(10), end(10), end(9)],
    true,
  ],
  ['100 nested groups', nested(100), true],
  ['a field inside the 100th nested group', nested(100, [0x08, 1]), false],
  ['101 nested groups', nested(101), false],
  ['mismatched end-group', [start(9), end(10)], false],
  ['end-group with no start', [end(9)], false],
  ['group never ended', [start(9), 0x08, 1], false],
];

function outcome(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

/** `bytes` with `group` inserted at `at` (after a version byte, or at the start of a protobuf). */
const splice = (bytes: Uint8Array, at: number, group: number[]): Uint8Array<ArrayBuffer> =>
  Uint8Array.from([...bytes.subarray(0, at), ...group, ...bytes.subarray(at)]);

describe('unknown groups: our decisions are libsignal 0.103.0 (prost) decisions', () => {
  const trustRoot = L.PrivateKey.generate();
  const serverKey = L.PrivateKey.generate();
  const serverCert = L.ServerCertificate.new(7, serverKey.getPublicKey(), trustRoot).serialize();
  const senderCert = L.SenderCertificate.new(
    crypto.randomUUID(),
    '+15550001111',
    1,
    L.PrivateKey.generate().getPublicKey(),
    2_000_000_000_000,
    L.ServerCertificate.deserialize(serverCert),
    serverKey,
  ).serialize();
  const signingKey = L.PrivateKey.generate();
  const distributionId = crypto.randomUUID();
  const skm = L.SenderKeyMessage._new(3, distributionId, 1, 2, new Uint8Array(16), signingKey).serialize();
  const skdm = L.SenderKeyDistributionMessage._new(
    3,
    distributionId,
    1,
    2,
    new Uint8Array(32),
    signingKey.getPublicKey(),
  ).serialize();

  type Bytes = Uint8Array<ArrayBuffer>;
  const kinds: Array<[string, Bytes, number, (b: Bytes) => unknown, (b: Bytes) => unknown]> = [
    [
      'ServerCertificate',
      serverCert,
      0,
      (b) => ServerCertificate.deserialize(b),
      (b) => L.ServerCertificate.deserialize(b),
    ],
    [
      'SenderCertificate',
      senderCert,
      0,
      (b) => SenderCertificate.deserialize(b),
      (b) => L.SenderCertificate.deserialize(b),
    ],
    [
      'SenderKeyMessage',
      skm,
      1,
      (b) => SenderKeyMessage.deserialize(b),
      (b) => L.SenderKeyMessage.deserialize(b),
    ],
    [
      'SenderKeyDistributionMessage',
      skdm,
      1,
      (b) => SenderKeyDistributionMessage.deserialize(b),
      (b) => L.SenderKeyDistributionMessage.deserialize(b),
    ],
  ];

  it.each(kinds)('%s', (_kind, valid, at, ours, theirs) => {
    expect(outcome(() => ours(valid))).toBe(true);
    expect(outcome(() => theirs(valid))).toBe(true);
    for (const [what, group, accepted] of CASES) {
      const bytes = splice(valid, at, group);
      expect(
        outcome(() => theirs(bytes)),
        `libsignal, ${what}`,
      ).toBe(accepted);
      expect(
        outcome(() => ours(bytes)),
        `ours, ${what}`,
      ).toBe(accepted);
    }
  });

  it('a group in the signed inner server certificate is skipped by both (and the signature still holds)', async () => {
    const root = await KeyPair.generate(nobleProvider);
    const key = (await KeyPair.generate(nobleProvider)).publicKey;
    const cert = ServerCertificate.create(5, key, root.privateKey);
    const inner = Uint8Array.from([...cert.certificateBytes(), start(9), 0x08, 1, end(9)]);
    const sig = xeddsaSign(root.privateKey, inner, nobleProvider);
    const w = Uint8Array.from([0x0a, inner.length, ...inner, 0x12, sig.length, ...sig]);
    expect(L.ServerCertificate.deserialize(w).keyId()).toBe(5);
    const ours = ServerCertificate.deserialize(w);
    expect(ours.keyId).toBe(5);
    expect(await ours.isSignedBy(root.publicKey, { provider: nobleProvider })).toBe(true);
  });
});
