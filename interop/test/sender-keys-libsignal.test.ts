// Live interop of @e2ee-kit/sender-keys with @signalapp/libsignal-client 0.103.0 (issue 4, point 4),
// on every provider:
// - a libsignal sender to three of our receivers, and our sender to three libsignal receivers: out of
//   order delivery, duplicates, the 25,000 / 25,001 forward-jump boundary, eviction after a jump of
//   2,500 (libsignal's own error text compared with ours), and a rotation with messages in flight;
// - our signing fast path (plain Ed25519 key, Montgomery form published) verified by libsignal for
//   keys of both sign bits, and the XEdDSA path of a sender record imported from libsignal;
// - records exported to libsignal and imported from it keep working on the other side;
// - fast-check schedules (reorder, duplicate, drop) of a libsignal sender's messages: every delivered
//   message decrypts exactly once.
import { randomUUID } from 'node:crypto';
import { type Address, type CryptoProvider, E2eeError, toHex, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import {
  GroupCipher,
  MissingSenderKeyError,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { lib103 } from '../src/libsignal.js';

type LibAddress = ReturnType<typeof lib103.ProtocolAddress.new>;
type LibRecord = ReturnType<typeof lib103.SenderKeyRecord.deserialize>;

/** libsignal's store, keeping serialized bytes like ours (so libsignal's record codec runs too). */
class LibSenderKeyStore extends lib103.SenderKeyStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  static key(a: LibAddress, d: string): string {
    return `${a.name()}.${a.deviceId()}\u0000${d}`;
  }
  async saveSenderKey(a: LibAddress, d: string, r: LibRecord): Promise<void> {
    this.map.set(LibSenderKeyStore.key(a, d), r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibRecord | null> {
    const b = this.map.get(LibSenderKeyStore.key(a, d));
    return b === undefined ? null : lib103.SenderKeyRecord.deserialize(b);
  }
}

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
const libAddress = (a: Address): LibAddress => lib103.ProtocolAddress.new(a.name, a.deviceId);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function libFailure(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; message: string };
    return { code: e.code, message: e.message };
  }
  throw new Error('expected libsignal to refuse');
}

async function ourFailure(p: Promise<unknown>): Promise<E2eeError> {
  try {
    await p;
  } catch (err) {
    return err as E2eeError;
  }
  throw new Error('expected a rejection');
}

/** A seeded shuffle with some deliveries repeated: [index, isRepeat][] */
function schedule(n: number, seed: string): Array<[number, boolean]> {
  const rnd = createDeterministicRandom(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = (rnd(1)[0] as number) % (i + 1);
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  const out: Array<[number, boolean]> = [];
  const seen = new Set<number>();
  for (const i of order) {
    out.push([i, seen.has(i)]);
    seen.add(i);
    if (((rnd(1)[0] as number) & 3) === 0) out.push([i, true]); // a duplicate right away
  }
  for (const i of order.slice(0, 3)) out.push([i, true]); // and late ones
  return out;
}

const alice: Address = { name: 'a1b2c3d4-0000-4000-8000-00000000a11c', deviceId: 1 };
const members: Address[] = [
  { name: 'b0b00000-0000-4000-8000-000000000b0b', deviceId: 1 },
  { name: 'b0b00000-0000-4000-8000-000000000b0b', deviceId: 2 },
  { name: 'ca401000-0000-4000-8000-0000000ca401', deviceId: 1 },
];

/** A libsignal sender: its store, address and helpers. */
function libSender(address: Address) {
  const store = new LibSenderKeyStore();
  const addr = libAddress(address);
  return {
    store,
    addr,
    skdm: async (d: string) => (await lib103.SenderKeyDistributionMessage.create(addr, d, store)).serialize(),
    encrypt: async (d: string, plaintext: string) =>
      (await lib103.groupEncrypt(addr, d, store, ab(utf8(plaintext)))).serialize() as Uint8Array,
    /** Signal-Desktop's reset: delete the own record, keep the distribution id; the next create makes a new chain. */
    reset: (d: string) => store.map.delete(LibSenderKeyStore.key(addr, d)),
  };
}

/** A libsignal receiver. */
function libReceiver() {
  const store = new LibSenderKeyStore();
  return {
    store,
    process: (from: Address, skdm: Uint8Array) =>
      lib103.processSenderKeyDistributionMessage(
        libAddress(from),
        lib103.SenderKeyDistributionMessage.deserialize(ab(skdm)),
        store,
      ),
    decrypt: async (from: Address, wire: Uint8Array) =>
      text(await lib103.groupDecrypt(libAddress(from), store, ab(wire))),
  };
}

/** Our receiver with a controllable clock. */
function ourReceiver(provider: CryptoProvider, clock: { now: number }) {
  const store = new InMemorySenderKeyStore();
  return { store, cipher: new GroupCipher(store, { provider, now: () => clock.now }) };
}

/**
 * Our sender advanced to iteration `n` by a GroupCipher on the node provider (fast), so the messages
 * at the boundary come from the provider under test without 25,000 slow signatures per provider.
 */
async function fastForward(store: InMemorySenderKeyStore, sender: Address, d: string, n: number) {
  const fast = new GroupCipher(store, { provider: nodeProvider });
  for (let i = 0; i < n; i++) await fast.encrypt(sender, d, utf8('filler'));
}

// Messages of one libsignal sender around the forward-jump boundaries, made once for every provider.
const empty = (): Uint8Array => new Uint8Array(0);
const boundary = {
  d25k: randomUUID(),
  d2500: randomUUID(),
  skdm25k: empty(),
  skdm2500: empty(),
  at25000: empty(),
  at25001: empty(),
  at499: empty(),
  at500: empty(),
  at2500: empty(),
  /** What libsignal's own receiver said for the 2,500 eviction sequence. */
  libEviction: [] as string[],
  libTooFar: '',
};

beforeAll(async () => {
  const lib = libSender(alice);
  boundary.skdm25k = await lib.skdm(boundary.d25k);
  for (let i = 0; i <= 25_001; i++) {
    const wire = await lib.encrypt(boundary.d25k, `msg ${i}`);
    if (i === 25_000) boundary.at25000 = wire;
    if (i === 25_001) boundary.at25001 = wire;
  }
  boundary.skdm2500 = await lib.skdm(boundary.d2500);
  for (let i = 0; i <= 2_500; i++) {
    const wire = await lib.encrypt(boundary.d2500, `msg ${i}`);
    if (i === 499) boundary.at499 = wire;
    if (i === 500) boundary.at500 = wire;
    if (i === 2_500) boundary.at2500 = wire;
  }
  // libsignal receiving its own messages: the reference outcomes.
  const r = libReceiver();
  await r.process(alice, boundary.skdm25k);
  boundary.libTooFar = (await libFailure(r.decrypt(alice, boundary.at25001))).message;
  await r.process(alice, boundary.skdm2500);
  boundary.libEviction.push(await r.decrypt(alice, boundary.at2500));
  boundary.libEviction.push((await libFailure(r.decrypt(alice, boundary.at499))).message);
  boundary.libEviction.push(await r.decrypt(alice, boundary.at500));
  boundary.libEviction.push((await libFailure(r.decrypt(alice, boundary.at500))).message);
}, 600_000);

for (const { label, provider } of allProviders) {
  describe(`libsignal sender → three of our receivers (${label})`, () => {
    it('out-of-order delivery with duplicates, then a rotation with messages in flight', async () => {
      const clock = { now: 1_700_000_000_000 };
      const d = randomUUID();
      const lib = libSender(alice);
      const receivers = [0, 1, 2].map(() => ourReceiver(provider, clock));
      const skdm1 = await lib.skdm(d);
      for (const r of receivers) await r.cipher.processDistributionMessage(alice, skdm1);
      const texts = Array.from({ length: 12 }, (_, i) => `before ${i}`);
      const wires = [];
      for (const t of texts) wires.push(await lib.encrypt(d, t));
      for (const [n, r] of receivers.entries()) {
        for (const [i, repeat] of schedule(wires.length, `${label}/${n}`)) {
          if (repeat) {
            const err = await ourFailure(r.cipher.decrypt(alice, wires[i] as Uint8Array));
            expect(E2eeError.is(err, 'DUPLICATE_MESSAGE')).toBe(true);
          } else {
            expect(text((await r.cipher.decrypt(alice, wires[i] as Uint8Array)).plaintext)).toBe(texts[i]);
          }
        }
      }
      // Two messages leave on the old chain; then the sender resets (Signal-Desktop's rotation).
      const inFlight = [await lib.encrypt(d, 'in flight 1'), await lib.encrypt(d, 'in flight 2')];
      lib.reset(d);
      const skdm2 = await lib.skdm(d);
      const chain1 = SenderKeyDistributionMessage.deserialize(skdm1).chainId;
      const chain2 = SenderKeyDistributionMessage.deserialize(skdm2).chainId;
      expect(chain2).not.toBe(chain1);
      expect(SenderKeyDistributionMessage.deserialize(skdm2).distributionId).toBe(d);
      for (const r of receivers) await r.cipher.processDistributionMessage(alice, skdm2);
      const after = await lib.encrypt(d, 'after rotation');
      for (const r of receivers) {
        const m = await r.cipher.decrypt(alice, after);
        expect([text(m.plaintext), m.chainId]).toEqual(['after rotation', chain2]);
      }
      clock.now += 60_000; // within the default grace of one hour
      for (const r of receivers.slice(0, 2)) {
        expect(text((await r.cipher.decrypt(alice, inFlight[1] as Uint8Array)).plaintext)).toBe(
          'in flight 2',
        );
      }
      clock.now += 2 * 60 * 60 * 1000; // grace over: the replaced chain is gone
      const late = await ourFailure(
        (receivers[2] as { cipher: GroupCipher }).cipher.decrypt(alice, inFlight[0] as Uint8Array),
      );
      expect(late).toBeInstanceOf(MissingSenderKeyError);
      expect((late as MissingSenderKeyError).chainId).toBe(chain1);
      expect((await receivers[0]!.store.loadSenderKey(alice, d))?.chainIds).toEqual([chain2, chain1]);
    });

    it('the 25,000 / 25,001 boundary', async () => {
      const clock = { now: Date.now() };
      const a = ourReceiver(provider, clock);
      const b = ourReceiver(provider, clock);
      for (const r of [a, b]) await r.cipher.processDistributionMessage(alice, boundary.skdm25k);
      const before = a.store.snapshot();
      const tooFar = await ourFailure(a.cipher.decrypt(alice, boundary.at25001));
      expect(E2eeError.is(tooFar, 'MESSAGE_GAP')).toBe(true);
      expect(boundary.libTooFar).toContain(tooFar.message);
      expect(a.store.snapshot()).toEqual(before);
      expect(text((await a.cipher.decrypt(alice, boundary.at25000)).plaintext)).toBe('msg 25000');
      expect(text((await a.cipher.decrypt(alice, boundary.at25001)).plaintext)).toBe('msg 25001');
      expect(text((await b.cipher.decrypt(alice, boundary.at25000)).plaintext)).toBe('msg 25000');
    });

    it('eviction after a jump of 2,500: exactly what libsignal answers', async () => {
      const r = ourReceiver(provider, { now: Date.now() });
      await r.cipher.processDistributionMessage(alice, boundary.skdm2500);
      const ours: string[] = [];
      ours.push(text((await r.cipher.decrypt(alice, boundary.at2500)).plaintext));
      ours.push((await ourFailure(r.cipher.decrypt(alice, boundary.at499))).message);
      ours.push(text((await r.cipher.decrypt(alice, boundary.at500)).plaintext));
      ours.push((await ourFailure(r.cipher.decrypt(alice, boundary.at500))).message);
      expect(ours).toEqual(boundary.libEviction);
      expect(ours).toEqual([
        'msg 2500',
        'message with old counter 2501 / 499',
        'msg 500',
        'message with old counter 2501 / 500',
      ]);
    });
  });

  describe(`our sender → three libsignal receivers (${label})`, () => {
    it('out-of-order delivery with duplicates, then a rotation on member removal with messages in flight', async () => {
      const d = randomUUID();
      const store = new InMemorySenderKeyStore();
      const us = new GroupCipher(store, { provider });
      const receivers = members.map(() => libReceiver());
      const plan = await us.prepareSend(alice, d, members);
      expect(plan.rotation).toBe('created');
      expect(plan.needsDistribution).toEqual(members);
      for (const r of receivers) await r.process(alice, plan.distributionMessage.serialize());
      expect(await us.markDelivered(alice, d, plan.chainId, members)).toBe(true);
      const texts = Array.from({ length: 12 }, (_, i) => `ours ${i}`);
      const wires = [];
      for (const t of texts) wires.push(await us.encrypt(alice, d, utf8(t)));
      for (const [n, r] of receivers.entries()) {
        for (const [i, repeat] of schedule(wires.length, `ours/${label}/${n}`)) {
          if (repeat) {
            const f = await libFailure(r.decrypt(alice, wires[i] as Uint8Array));
            expect(f.code).toBe(lib103.ErrorCode.DuplicatedMessage);
          } else {
            expect(await r.decrypt(alice, wires[i] as Uint8Array)).toBe(texts[i]);
          }
        }
      }
      // In flight on the old chain, then member 3 leaves: the next send rotates.
      const inFlight = await us.encrypt(alice, d, utf8('in flight'));
      const remaining = members.slice(0, 2);
      const plan2 = await us.prepareSend(alice, d, remaining);
      expect(plan2.rotation).toBe('member-removed');
      expect(plan2.removed).toEqual([members[2]]);
      expect(plan2.needsDistribution).toEqual(remaining);
      expect(plan2.chainId).not.toBe(plan.chainId);
      expect(plan2.distributionMessage.distributionId).toBe(d);
      for (const r of receivers.slice(0, 2)) await r.process(alice, plan2.distributionMessage.serialize());
      await us.markDelivered(alice, d, plan2.chainId, remaining);
      const after = await us.encrypt(alice, d, utf8('after rotation'));
      for (const r of receivers.slice(0, 2)) {
        expect(await r.decrypt(alice, after)).toBe('after rotation');
        expect(await r.decrypt(alice, inFlight)).toBe('in flight');
      }
      // The removed member cannot read the new chain.
      const removed = await libFailure(
        (receivers[2] as ReturnType<typeof libReceiver>).decrypt(alice, after),
      );
      expect(removed.message).toContain('missing sender key state');
      expect(await (receivers[2] as ReturnType<typeof libReceiver>).decrypt(alice, inFlight)).toBe(
        'in flight',
      );
    });

    it('the 25,000 / 25,001 boundary and eviction after a jump of 2,500', async () => {
      const d = randomUUID();
      const store = new InMemorySenderKeyStore();
      const us = new GroupCipher(store, { provider });
      const skdm = (await us.createDistributionMessage(alice, d)).serialize();
      const [near, far, evict] = [libReceiver(), libReceiver(), libReceiver()];
      for (const r of [near, far, evict]) await r.process(alice, skdm);
      await fastForward(store, alice, d, 499);
      const at499 = await us.encrypt(alice, d, utf8('msg 499'));
      const at500 = await us.encrypt(alice, d, utf8('msg 500'));
      await fastForward(store, alice, d, 1999);
      const at2500 = await us.encrypt(alice, d, utf8('msg 2500'));
      expect(SenderKeyMessage.deserialize(at2500).iteration).toBe(2500);
      expect(await evict.decrypt(alice, at2500)).toBe('msg 2500');
      expect((await libFailure(evict.decrypt(alice, at499))).message).toBe(
        'message with old counter 2501 / 499',
      );
      expect(await evict.decrypt(alice, at500)).toBe('msg 500');
      expect((await libFailure(evict.decrypt(alice, at500))).message).toBe(
        'message with old counter 2501 / 500',
      );
      await fastForward(store, alice, d, 25_000 - 2501);
      const at25000 = await us.encrypt(alice, d, utf8('msg 25000'));
      const at25001 = await us.encrypt(alice, d, utf8('msg 25001'));
      expect(SenderKeyMessage.deserialize(at25001).iteration).toBe(25_001);
      expect((await libFailure(far.decrypt(alice, at25001))).message).toBe(boundary.libTooFar);
      expect(await far.decrypt(alice, at25000)).toBe('msg 25000');
      expect(await far.decrypt(alice, at25001)).toBe('msg 25001');
      expect(await near.decrypt(alice, at25000)).toBe('msg 25000');
    });
  });
}

describe('signing: our fast path and the XEdDSA path, verified by libsignal', () => {
  it('plain Ed25519 keys published in Montgomery form verify in libsignal, for both sign bits', async () => {
    const signBits = new Set<number>();
    for (const { provider } of allProviders) {
      for (let k = 0; k < 8; k++) {
        const store = new InMemorySenderKeyStore();
        const us = new GroupCipher(store, { provider });
        const d = randomUUID();
        const skdm = await us.createDistributionMessage(alice, d);
        const wire = SenderKeyMessage.deserialize(await us.encrypt(alice, d, utf8(`key ${k}`)));
        const signature = wire.signature();
        signBits.add((signature[63] as number) >> 7);
        const key = lib103.PublicKey.deserialize(ab(skdm.signingKey.serialize()));
        expect(key.verify(ab(wire.signedBytes()), ab(signature))).toBe(true);
        const flipped = signature.slice();
        flipped[63] = (flipped[63] as number) ^ 0x80; // the sign bit is checked
        expect(key.verify(ab(wire.signedBytes()), ab(flipped))).toBe(false);
      }
    }
    expect([...signBits].sort()).toEqual([0, 1]);
  });

  it('a sender record made by libsignal, imported, signs with XEdDSA; libsignal decrypts', async () => {
    const d = randomUUID();
    const lib = libSender(alice);
    const skdm = await lib.skdm(d);
    await lib.encrypt(d, 'first, by libsignal');
    const libBytes = lib.store.map.get(LibSenderKeyStore.key(lib.addr, d)) as Uint8Array;
    const store = new InMemorySenderKeyStore();
    store.setRawRecord(alice, d, SenderKeyRecord.fromLibsignal(libBytes).serialize());
    const us = new GroupCipher(store);
    const r = libReceiver();
    await r.process(alice, skdm);
    for (let i = 0; i < 3; i++)
      expect(await r.decrypt(alice, await us.encrypt(alice, d, utf8(`ours ${i}`)))).toBe(`ours ${i}`);
    // and the record goes back to libsignal, which continues the chain
    const back = (await store.loadSenderKey(alice, d)) as SenderKeyRecord;
    lib.store.map.set(LibSenderKeyStore.key(lib.addr, d), ab(back.toLibsignal()));
    expect(await r.decrypt(alice, await lib.encrypt(d, 'libsignal again'))).toBe('libsignal again');
  });
});

describe('records cross over', () => {
  it('our receiver record (with skipped keys) exported to libsignal, and libsignal\u2019s imported by us', async () => {
    const d = randomUUID();
    const lib = libSender(alice);
    const skdm = await lib.skdm(d);
    const wires = [];
    for (let i = 0; i < 6; i++) wires.push(await lib.encrypt(d, `m${i}`));
    const ours = ourReceiver(nodeProvider, { now: Date.now() });
    await ours.cipher.processDistributionMessage(alice, skdm);
    await ours.cipher.decrypt(alice, wires[3] as Uint8Array); // keeps keys 0, 1, 2
    const exported = ((await ours.store.loadSenderKey(alice, d)) as SenderKeyRecord).toLibsignal();
    const theirs = libReceiver();
    theirs.store.map.set(LibSenderKeyStore.key(libAddress(alice), d), ab(exported));
    expect(await theirs.decrypt(alice, wires[1] as Uint8Array)).toBe('m1');
    expect((await libFailure(theirs.decrypt(alice, wires[3] as Uint8Array))).code).toBe(
      lib103.ErrorCode.DuplicatedMessage,
    );
    // libsignal's record (keys 0 and 2 left, chain at 4) imported into a fresh store of ours
    const libRecord = theirs.store.map.get(LibSenderKeyStore.key(libAddress(alice), d)) as Uint8Array;
    const again = ourReceiver(nodeProvider, { now: Date.now() });
    again.store.setRawRecord(alice, d, SenderKeyRecord.fromLibsignal(libRecord).serialize());
    expect(toHex(((await again.store.loadSenderKey(alice, d)) as SenderKeyRecord).toLibsignal())).toBe(
      toHex(libRecord),
    );
    for (const i of [5, 0, 2, 4])
      expect(text((await again.cipher.decrypt(alice, wires[i] as Uint8Array)).plaintext)).toBe(`m${i}`);
    expect(
      E2eeError.is(
        await ourFailure(again.cipher.decrypt(alice, wires[1] as Uint8Array)),
        'DUPLICATE_MESSAGE',
      ),
    ).toBe(true);
  });
});

describe('fast-check: libsignal sender, random reorder / duplicate / drop schedules', () => {
  it('every delivered message decrypts exactly once, and nothing else changes', async () => {
    const d = randomUUID();
    const lib = libSender(alice);
    const skdm = await lib.skdm(d);
    const pool: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) pool.push(await lib.encrypt(d, `p${i}`));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(39), { minLength: 1, maxLength: 60 }), async (deliveries) => {
        const r = ourReceiver(nodeProvider, { now: Date.now() });
        await r.cipher.processDistributionMessage(alice, skdm);
        const got = new Set<number>();
        for (const i of deliveries) {
          const outcome = await r.cipher.tryDecrypt(alice, pool[i] as Uint8Array);
          if (got.has(i)) {
            if (outcome.status !== 'duplicate') return false;
          } else {
            if (outcome.status !== 'decrypted' || text(outcome.plaintext) !== `p${i}`) return false;
            got.add(i);
          }
        }
        return true;
      }),
      { numRuns: 40 },
    );
  });
});
