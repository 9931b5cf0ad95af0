// DecryptionErrorMessage and PlaintextContent against libsignal-client 0.90.0 and 0.72.1, live (the
// 0.103.0 run is healing-libsignal.test.ts): for real whisper, PreKey and sender-key messages of both
// sides (0.72.1 speaking X3DH), `forOriginal` gives the same bytes on both sides, each side reads the
// other's receipt (directly and inside a PlaintextContent), and our side reads everything from pooled
// Node Buffers, checked unchanged afterwards.
import { toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { DecryptionErrorMessage, FailedMessageType, PlaintextContent } from '@e2ee-kit/ratchet';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type LibHandle, libs, type RawWireMessage, toLib } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const hex = (u: Uint8Array) => toHex(new Uint8Array(u));

const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  if (bytes.length < Buffer.poolSize >>> 2 && buffer.buffer.byteLength !== Buffer.poolSize)
    throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}
afterAll(() => {
  expect(handedOut.length).toBeGreaterThan(50);
  for (const { buffer, hex: h } of handedOut) expect(buffer.toString('hex')).toBe(h);
});

interface Sample {
  readonly label: string;
  readonly type: FailedMessageType;
  readonly bytes: Uint8Array;
}

const typeOf = (m: RawWireMessage) =>
  m.type === 'prekey' ? FailedMessageType.PreKey : FailedMessageType.Whisper;

/** Real messages of both sides with `lib`: PreKey and whisper each way, and two sender-key messages. */
async function samplesWith(lib: LibHandle): Promise<Sample[]> {
  const x3dh = lib === libs.lib72;
  const out: Sample[] = [];
  type End = Awaited<ReturnType<typeof ourEndpoint>> | ReturnType<typeof libEndpoint>;
  const send = async (from: End, to: End, label: string) => {
    const m = await from.encrypt(to.address, utf8(label));
    await to.decrypt(from.address, m);
    out.push({ label, type: typeOf(m), bytes: m.body });
  };
  const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', deviceId: 3, x3dh });
  const theirs = libEndpoint(lib, { name: crypto.randomUUID(), deviceId: 4, kyber: !x3dh });
  await theirs.processBundle(ours.address, await ours.createBundle());
  await send(theirs, ours, 'libsignal prekey');
  await send(ours, theirs, 'our whisper');
  await send(theirs, ours, 'libsignal whisper');
  const ours2 = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', x3dh });
  const theirs2 = libEndpoint(lib, { name: crypto.randomUUID(), deviceId: 2, kyber: !x3dh });
  await ours2.processBundle(theirs2.address, await theirs2.createBundle());
  await send(ours2, theirs2, 'our prekey');

  const m = lib.mod;
  const records = new Map<string, unknown>();
  class Store extends m.SenderKeyStore {
    async saveSenderKey(_a: unknown, d: string, r: unknown): Promise<void> {
      records.set(d, r);
    }
    async getSenderKey(_a: unknown, d: string): Promise<never> {
      return (records.get(d) ?? null) as never;
    }
  }
  const d = crypto.randomUUID();
  const store = new Store();
  const libAddr = m.ProtocolAddress.new(crypto.randomUUID(), 5);
  await m.SenderKeyDistributionMessage.create(libAddr, d, store);
  const libGroup = await m.groupEncrypt(libAddr, d, store, toLib(lib, utf8('group')));
  out.push({
    label: 'libsignal sender key',
    type: FailedMessageType.SenderKey,
    bytes: new Uint8Array(libGroup.serialize()),
  });
  const group = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
  const me = { name: crypto.randomUUID(), deviceId: 1 };
  await group.createDistributionMessage(me, d);
  out.push({
    label: 'our sender key',
    type: FailedMessageType.SenderKey,
    bytes: await group.encrypt(me, d, utf8('group')),
  });
  return out;
}

describe.each([libs.lib90, libs.lib72].map((l) => [l.version, l] as const))(
  'retry receipts with libsignal-client %s, Buffer inputs on our side',
  (_version, lib) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);
    type LibDem = ReturnType<typeof m.DecryptionErrorMessage.deserialize>;
    const theirFields = (x: LibDem) => [
      x.timestamp(),
      x.deviceId(),
      x.ratchetKey() && hex(x.ratchetKey()!.serialize()),
    ];
    const ourFields = (x: DecryptionErrorMessage) => [
      x.timestamp,
      x.deviceId,
      x.ratchetKey && hex(x.ratchetKey.serialize()),
    ];

    it('forOriginal and PlaintextContent: the same bytes, each side reads the other’s', async () => {
      const samples = await samplesWith(lib);
      expect(samples.map((s) => s.type)).toEqual([3, 2, 2, 3, 7, 7]);
      const cases: Array<[number, number]> = [
        [0, 1],
        [1_700_000_123_456, 127],
        [2 ** 40 + 7, 0xffff_ffff],
      ];
      for (const s of samples) {
        for (const [ts, dev] of cases) {
          const theirs = m.DecryptionErrorMessage.forOriginal(b(s.bytes), s.type, ts, dev);
          const ours = DecryptionErrorMessage.forOriginal(pooled(s.bytes), s.type, ts, dev);
          expect(hex(ours.serialize()), s.label).toBe(hex(theirs.serialize()));
          // A ratchet key exactly for 1:1 messages.
          expect(theirs.ratchetKey() === undefined, s.label).toBe(s.type === FailedMessageType.SenderKey);
          expect(ourFields(DecryptionErrorMessage.deserialize(pooled(theirs.serialize())))).toEqual(
            theirFields(theirs),
          );
          expect(theirFields(m.DecryptionErrorMessage.deserialize(b(ours.serialize())))).toEqual(
            ourFields(ours),
          );

          const theirContent = m.PlaintextContent.from(theirs);
          const ourContent = PlaintextContent.from(ours);
          expect(hex(ourContent.serialize()), s.label).toBe(hex(theirContent.serialize()));
          const parsed = PlaintextContent.deserialize(pooled(theirContent.serialize()));
          expect(hex(parsed.body)).toBe(hex(theirContent.body()));
          expect(ourFields(parsed.decryptionErrorMessage())).toEqual(theirFields(theirs));
          expect(
            ourFields(DecryptionErrorMessage.extractFromSerializedBody(pooled(theirContent.body()))),
          ).toEqual(theirFields(theirs));
          const theirView = m.PlaintextContent.deserialize(b(ourContent.serialize()));
          expect(theirFields(m.DecryptionErrorMessage.extractFromSerializedBody(theirView.body()))).toEqual(
            ourFields(ours),
          );
        }
      }
    });
  },
);
