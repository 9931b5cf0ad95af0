// Garbage in: every decoder answers malformed bytes with DecodeError (never another error, a hang or
// a large allocation), every public function answers wrong argument types with TypeError /
// RangeError, and the cipher answers garbage messages with one of its typed errors.
import { readFileSync } from 'node:fs';
import { type Address, DecodeError, E2eeError, fromHex, utf8 } from '@e2ee-kit/core';
import {
  GroupCipher,
  generateDistributionId,
  KeyHolderRecord,
  normalizeDistributionId,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore, SimulatedNetwork } from '@e2ee-kit/sender-keys/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sessions, vectorSender } from './helpers.js';

const f = sessions.fixed;
const validInputs = {
  skdm: fromHex(f.senderKeyDistributionMessageHex),
  skm: fromHex(f.messages[1]!.senderKeyMessageHex),
  libRecord: fromHex(f.senderRecordStorageProtobufHex),
};

/** Valid bytes, damaged: truncated, bit-flipped, bytes inserted, a length varint made huge. */
function mutations(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.nat(valid.length).map((n) => valid.slice(0, n)),
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = valid.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    }),
    fc
      .tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 12 }))
      .map(([i, ins]) => new Uint8Array([...valid.subarray(0, i), ...ins, ...valid.subarray(i)])),
    fc
      .nat(valid.length - 1)
      .map(
        (i) => new Uint8Array([...valid.subarray(0, i), 0xff, 0xff, 0xff, 0xff, 0x0f, ...valid.subarray(i)]),
      ),
  );
}

const bytes = (valid: Uint8Array) =>
  fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    mutations(valid),
    fc.uint8Array({ maxLength: 80 }).map((b) => new Uint8Array([0x33, ...b])),
  );

function decodesOrDecodeError(decode: () => unknown): boolean {
  try {
    decode();
    return true;
  } catch (err) {
    return err instanceof DecodeError;
  }
}

describe('decoders', () => {
  it('SenderKeyDistributionMessage.deserialize', () => {
    fc.assert(
      fc.property(bytes(validInputs.skdm), (b) =>
        decodesOrDecodeError(() => SenderKeyDistributionMessage.deserialize(b)),
      ),
      { numRuns: 2000 },
    );
  });
  it('SenderKeyMessage.deserialize', () => {
    fc.assert(
      fc.property(bytes(validInputs.skm), (b) => decodesOrDecodeError(() => SenderKeyMessage.deserialize(b))),
      { numRuns: 2000 },
    );
  });
  it('SenderKeyRecord.fromLibsignal', () => {
    fc.assert(
      fc.property(bytes(validInputs.libRecord), (b) =>
        decodesOrDecodeError(() => SenderKeyRecord.fromLibsignal(b)),
      ),
      { numRuns: 2000 },
    );
  });
  it('SenderKeyRecord.deserialize', async () => {
    const store = new InMemorySenderKeyStore();
    const c = new GroupCipher(store);
    const me = { name: 'me', deviceId: 1 };
    const plan = await c.prepareSend(me, f.distributionId, [{ name: 'x', deviceId: 1 }]);
    await c.markDelivered(me, f.distributionId, plan.chainId, [{ name: 'x', deviceId: 1 }]);
    const own = store.rawRecord(me, f.distributionId) as Uint8Array;
    fc.assert(
      fc.property(bytes(own), (b) =>
        decodesOrDecodeError(() => {
          const r = SenderKeyRecord.deserialize(b);
          r.serialize();
          r.toLibsignal();
        }),
      ),
      { numRuns: 2000 },
    );
  });
  it('SenderKeyRecord.deserialize, version 2 (retired-chain markers, a rotation reason)', () => {
    for (const name of ['record-v2-receiver.bin', 'record-v2-sender.bin']) {
      const valid = new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
      fc.assert(
        fc.property(bytes(valid), (b) =>
          decodesOrDecodeError(() => {
            const r = SenderKeyRecord.deserialize(b);
            SenderKeyRecord.deserialize(r.serialize());
            r.toLibsignal();
          }),
        ),
        { numRuns: 1000 },
      );
    }
  });
  it('KeyHolderRecord.deserialize', () => {
    const valid = KeyHolderRecord.create(5, [
      { name: 'bob', deviceId: 1 },
      { name: 'carol', deviceId: 2 },
    ]).serialize();
    fc.assert(
      fc.property(bytes(valid), (b) =>
        decodesOrDecodeError(() => {
          const r = KeyHolderRecord.deserialize(b);
          r.serialize();
          return r.devices;
        }),
      ),
      { numRuns: 2000 },
    );
  });
  it('a huge declared length is refused without allocating it', () => {
    const huge = new Uint8Array([0x33, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, ...new Uint8Array(70)]);
    expect(() => SenderKeyDistributionMessage.deserialize(huge)).toThrow(DecodeError);
    expect(() => SenderKeyMessage.deserialize(huge)).toThrow(DecodeError);
    expect(() => SenderKeyRecord.fromLibsignal(huge.subarray(1))).toThrow(DecodeError);
  });
});

describe('the cipher on garbage messages', () => {
  it('decrypt / tryDecrypt / processDistributionMessage answer with typed errors only, and store nothing', async () => {
    const store = new InMemorySenderKeyStore();
    const c = new GroupCipher(store);
    await c.processDistributionMessage(vectorSender, validInputs.skdm);
    const same = (x: Map<string, Uint8Array>, y: Map<string, Uint8Array>) =>
      x.size === y.size && [...x].every(([k, v]) => y.get(k)?.join() === v.join());
    await fc.assert(
      fc.asyncProperty(bytes(validInputs.skm), async (b) => {
        const before = store.snapshot();
        const outcome = await c.tryDecrypt(vectorSender, b);
        if (outcome.status === 'decrypted') return true; // a mutation that left a valid message
        if (!same(before, store.snapshot())) return false;
        try {
          await c.decrypt(vectorSender, b);
          return false;
        } catch (err) {
          return E2eeError.is(err) && same(before, store.snapshot());
        }
      }),
      { numRuns: 600 },
    );
    await fc.assert(
      fc.asyncProperty(bytes(validInputs.skdm), async (b) => {
        try {
          await new GroupCipher(new InMemorySenderKeyStore()).processDistributionMessage(vectorSender, b);
          return true;
        } catch (err) {
          return err instanceof DecodeError;
        }
      }),
      { numRuns: 600 },
    );
  });
});

// Values that are not what a parameter wants.
const junk: unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  '',
  'x',
  '00',
  {},
  [],
  [1],
  true,
  () => {},
  10n,
  Symbol('s'),
  new Uint8Array(0),
  new Uint8Array(3),
  new Uint16Array(2),
  new ArrayBuffer(8),
  { name: 'a' },
  { name: 'a', deviceId: 1.5 },
  { name: '', deviceId: 1 },
  { deviceId: 1 },
  new Date(0),
];

async function settlesTyped(call: () => unknown): Promise<boolean> {
  try {
    await call();
    return true;
  } catch (err) {
    return err instanceof TypeError || err instanceof RangeError || E2eeError.is(err);
  }
}

describe('public functions on junk arguments', () => {
  const me: Address = { name: 'me', deviceId: 1 };
  const D = '11111111-2222-4333-8444-555555555555';
  const key = SenderKeyDistributionMessage.deserialize(validInputs.skdm).signingKey;
  const calls: Record<string, (args: unknown[]) => unknown> = {
    normalizeDistributionId: ([a]) => normalizeDistributionId(a),
    generateDistributionId: ([a]) => generateDistributionId(a as never),
    'SenderKeyDistributionMessage.create': ([a, b, c, d]) =>
      SenderKeyDistributionMessage.create({
        distributionId: a as string,
        chainId: b as number,
        iteration: c as number,
        chainKey: d as Uint8Array,
        signingKey: key,
      }),
    'SenderKeyMessage.encodeUnsigned': ([a, b, c, d]) =>
      SenderKeyMessage.encodeUnsigned({
        distributionId: a as string,
        chainId: b as number,
        iteration: c as number,
        ciphertext: d as Uint8Array,
      }),
    'SenderKeyDistributionMessage.deserialize': ([a]) =>
      SenderKeyDistributionMessage.deserialize(a as Uint8Array),
    'SenderKeyMessage.deserialize': ([a]) => SenderKeyMessage.deserialize(a as Uint8Array),
    'SenderKeyRecord.deserialize': ([a]) => SenderKeyRecord.deserialize(a as Uint8Array),
    'SenderKeyRecord.fromLibsignal': ([a, b]) => SenderKeyRecord.fromLibsignal(a as Uint8Array, b as never),
    'new GroupCipher': ([a, b]) => new GroupCipher(a as never, b as never),
    'KeyHolderRecord.create': ([a, b]) => KeyHolderRecord.create(a as number, b as Address[]),
    'KeyHolderRecord.deserialize': ([a]) => KeyHolderRecord.deserialize(a as Uint8Array),
    'new SimulatedNetwork': ([a, b]) => new SimulatedNetwork(a as string, b as never),
  };
  const cipherCalls: Record<string, (c: GroupCipher, args: unknown[]) => unknown> = {
    createDistributionMessage: (c, [a, b]) => c.createDistributionMessage(a as Address, b as string),
    processDistributionMessage: (c, [a, b]) => c.processDistributionMessage(a as Address, b as Uint8Array),
    encrypt: (c, [a, b, d]) => c.encrypt(a as Address, b as string, d as Uint8Array),
    decrypt: (c, [a, b]) => c.decrypt(a as Address, b as Uint8Array),
    tryDecrypt: (c, [a, b]) => c.tryDecrypt(a as Address, b as Uint8Array),
    prepareSend: (c, [a, b, d, e]) => c.prepareSend(a as Address, b as string, d as Address[], e as never),
    markDelivered: (c, [a, b, d, e]) =>
      c.markDelivered(a as Address, b as string, d as number, e as Address[]),
    markNeedsDistribution: (c, [a, b, d]) =>
      c.markNeedsDistribution(a as Address, b as string, d as Address[]),
    rotate: (c, [a, b]) => c.rotate(a as Address, b as string),
    keyHolders: (c, [a, b]) => c.keyHolders(a as Address, b as string),
  };
  const valid: Record<string, unknown[]> = {
    normalizeDistributionId: [D],
    generateDistributionId: [{}],
    'SenderKeyDistributionMessage.create': [D, 1, 0, new Uint8Array(32)],
    'SenderKeyMessage.encodeUnsigned': [D, 1, 0, new Uint8Array(16)],
    'SenderKeyDistributionMessage.deserialize': [validInputs.skdm],
    'SenderKeyMessage.deserialize': [validInputs.skm],
    'SenderKeyRecord.deserialize': [SenderKeyRecord.empty().serialize()],
    'SenderKeyRecord.fromLibsignal': [validInputs.libRecord, {}],
    'new GroupCipher': [new InMemorySenderKeyStore(), {}],
    'KeyHolderRecord.create': [1, [{ name: 'b', deviceId: 1 }]],
    'KeyHolderRecord.deserialize': [KeyHolderRecord.create(1, []).serialize()],
    'new SimulatedNetwork': ['seed', {}],
    createDistributionMessage: [me, D],
    processDistributionMessage: [me, validInputs.skdm],
    encrypt: [me, D, utf8('x')],
    decrypt: [me, validInputs.skm],
    tryDecrypt: [me, validInputs.skm],
    prepareSend: [me, D, [{ name: 'b', deviceId: 1 }], {}],
    markDelivered: [me, D, 1, [{ name: 'b', deviceId: 1 }]],
    markNeedsDistribution: [me, D, [{ name: 'b', deviceId: 1 }]],
    rotate: [me, D],
    keyHolders: [me, D],
  };

  for (const [name, call] of Object.entries(calls)) {
    it(name, async () => {
      const args = valid[name] as unknown[];
      for (let slot = 0; slot < args.length; slot++) {
        for (const j of junk) {
          const a = args.slice();
          a[slot] = j;
          expect(await settlesTyped(() => call(a)), `${name} arg ${slot} = ${String(typeof j)}`).toBe(true);
        }
      }
    });
  }
  for (const [name, call] of Object.entries(cipherCalls)) {
    it(`GroupCipher.${name}`, async () => {
      const store = new InMemorySenderKeyStore();
      const c = new GroupCipher(store);
      await c.createDistributionMessage(me, D);
      const args = valid[name] as unknown[];
      for (let slot = 0; slot < args.length; slot++) {
        for (const j of junk) {
          const a = args.slice();
          a[slot] = j;
          expect(await settlesTyped(() => call(c, a)), `${name} arg ${slot} = ${String(typeof j)}`).toBe(
            true,
          );
        }
      }
    });
  }
});
