// Sender keys against libsignal-client 0.90.0 and 0.72.1, live, both directions (the 0.103.0 runs are
// sender-keys-libsignal.test.ts and libsignal-buffers.test.ts). A libsignal receiver of the same build
// reads every schedule next to ours, so each decision (decrypted, or refused) is libsignal's own; every
// byte array our side reads is a pooled Node Buffer, checked unchanged afterwards, and a refusal on our
// side leaves our store byte-identical.
import type { Address } from '@e2ee-kit/core';
import { E2eeError } from '@e2ee-kit/core';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type LibHandle, libs, toLib } from '../src/libsignal.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array) => new TextDecoder().decode(u);

const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  if (bytes.length < Buffer.poolSize >>> 2 && buffer.buffer.byteLength !== Buffer.poolSize)
    throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}
afterAll(() => {
  expect(handedOut.length).toBeGreaterThan(40);
  for (const { buffer, hex } of handedOut) expect(buffer.toString('hex')).toBe(hex);
});

/** Delivery order of 10 messages: reordered, with duplicates right away and late. */
const SCHEDULE = [3, 0, 1, 1, 9, 4, 2, 5, 3, 8, 6, 7, 0, 9];
const COUNT = 10;

type Mod = LibHandle['mod'];
type LibAddress = ReturnType<Mod['ProtocolAddress']['new']>;
type LibRecord = ReturnType<Mod['SenderKeyRecord']['deserialize']>;

/** The build's SenderKeyStore over serialized records (0.72's bridge methods are inherited). */
function libStore(lib: LibHandle) {
  const m = lib.mod;
  const map = new Map<string, Uint8Array>();
  const key = (a: LibAddress, d: string) => `${a.name()}.${a.deviceId()}\u0000${d}`;
  class Store extends m.SenderKeyStore {
    async saveSenderKey(a: LibAddress, d: string, r: LibRecord): Promise<void> {
      map.set(key(a, d), new Uint8Array(r.serialize()));
    }
    async getSenderKey(a: LibAddress, d: string): Promise<LibRecord | null> {
      const b = map.get(key(a, d));
      return b === undefined ? null : m.SenderKeyRecord.deserialize(toLib(lib, b));
    }
  }
  return new Store();
}

/** What a receiver says to each delivery: the plaintext, or `refused`. */
async function outcome(p: Promise<Uint8Array>): Promise<string> {
  try {
    return text(await p);
  } catch {
    return 'refused';
  }
}

/** Our receiver: each decrypt from a pooled Buffer; a refusal must be typed and store nothing. */
function ourReceiver() {
  const store = new InMemorySenderKeyStore();
  const cipher = new GroupCipher(store);
  const snapshot = () =>
    JSON.stringify([...store.snapshot()].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
  return {
    process: (from: Address, skdm: Uint8Array) => cipher.processDistributionMessage(from, pooled(skdm)),
    async decrypt(from: Address, wire: Uint8Array): Promise<string> {
      const before = snapshot();
      try {
        return text((await cipher.decrypt(from, pooled(wire))).plaintext);
      } catch (err) {
        expect(E2eeError.is(err), String(err)).toBe(true);
        expect(snapshot()).toBe(before);
        return 'refused';
      }
    },
  };
}

describe.each([libs.lib90, libs.lib72].map((l) => [l.version, l] as const))(
  'sender keys with libsignal-client %s, Buffer inputs on our side',
  (_version, lib) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);
    const addr = (a: Address) => m.ProtocolAddress.new(a.name, a.deviceId);

    it('libsignal sender → our receiver and a libsignal receiver: the same answer to every delivery', async () => {
      const sender: Address = { name: crypto.randomUUID(), deviceId: 3 };
      const d = crypto.randomUUID();
      const senderStore = libStore(lib);
      const skdm = (await m.SenderKeyDistributionMessage.create(addr(sender), d, senderStore)).serialize();
      const wires: Uint8Array[] = [];
      for (let i = 0; i < COUNT; i++)
        wires.push(
          new Uint8Array((await m.groupEncrypt(addr(sender), d, senderStore, b(utf8(`m${i}`)))).serialize()),
        );

      const ours = ourReceiver();
      await ours.process(sender, skdm);
      const theirStore = libStore(lib);
      await m.processSenderKeyDistributionMessage(
        addr(sender),
        m.SenderKeyDistributionMessage.deserialize(b(skdm)),
        theirStore,
      );
      const theirs: string[] = [];
      const mine: string[] = [];
      for (const i of SCHEDULE) {
        theirs.push(await outcome(m.groupDecrypt(addr(sender), theirStore, b(wires[i]!))));
        mine.push(await ours.decrypt(sender, wires[i]!));
      }
      expect(mine).toEqual(theirs);
      // The schedule has both answers (it would prove nothing otherwise).
      expect(theirs.filter((t) => t === 'refused').length).toBe(SCHEDULE.length - COUNT);
    });

    it('our sender → a libsignal receiver: every message read once, duplicates refused', async () => {
      const sender: Address = { name: crypto.randomUUID(), deviceId: 1 };
      const member: Address = { name: crypto.randomUUID(), deviceId: 2 };
      const d = crypto.randomUUID();
      const ours = new GroupCipher(new InMemorySenderKeyStore());
      const plan = await ours.prepareSend(sender, d, [member]);
      const theirStore = libStore(lib);
      await m.processSenderKeyDistributionMessage(
        addr(sender),
        m.SenderKeyDistributionMessage.deserialize(b(plan.distributionMessage.serialize())),
        theirStore,
      );
      await ours.markDelivered(sender, d, plan.chainId, plan.needsDistribution);
      const wires: Uint8Array[] = [];
      for (let i = 0; i < COUNT; i++) wires.push(await ours.encrypt(sender, d, pooled(utf8(`ours ${i}`))));
      const got: string[] = [];
      for (const i of SCHEDULE)
        got.push(await outcome(m.groupDecrypt(addr(sender), theirStore, b(wires[i]!))));
      // First delivery of each message reads it; every repeat is refused.
      const expected = SCHEDULE.map((i, at) => (SCHEDULE.indexOf(i) < at ? 'refused' : `ours ${i}`));
      expect(got).toEqual(expected);
    });
  },
);
