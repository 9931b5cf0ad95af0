// SenderKeyRecord: versioned format, frozen fixtures, libsignal storage format both ways.
import { readFileSync } from 'node:fs';
import { DecodeError, fromHex, toHex, utf8 } from '@e2ee-kit/core';
import {
  GroupCipher,
  KEY_HOLDER_RECORD_VERSION,
  KeyHolderRecord,
  MAX_RETIRED_CHAINS,
  MissingSenderKeyError,
  SENDER_KEY_RECORD_VERSION,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { sessions, thrown, vectorSender } from './helpers.js';

const fixture = (name: string) =>
  new Uint8Array(readFileSync(new URL(`./fixtures/${name}`, import.meta.url)));
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const T0 = 1_760_000_000_000;

describe('frozen fixtures load forever', () => {
  it('record-v1-receiver.bin: two states, the replaced one readable only within its grace', async () => {
    const bytes = fixture('record-v1-receiver.bin');
    const record = SenderKeyRecord.deserialize(bytes);
    expect(record.chainIds).toEqual([42, sessions.fixed.chainId]);
    // Nothing of version 2 in it: written back as the same version-1 bytes, which an earlier
    // release (a tab not yet updated) still reads.
    expect(toHex(record.serialize())).toBe(toHex(bytes));
    const f = sessions.fixed;
    const within = new InMemorySenderKeyStore();
    within.setRawRecord(vectorSender, f.distributionId, bytes);
    const c = new GroupCipher(within, { now: () => T0 + 1000 + 60_000 });
    for (const i of [1, 0]) {
      const m = f.messages[i]!;
      expect(text((await c.decrypt(vectorSender, fromHex(m.senderKeyMessageHex))).plaintext)).toBe(
        m.plaintextUtf8,
      );
    }
    const dup = await thrown(c.decrypt(vectorSender, fromHex(f.messages[2]!.senderKeyMessageHex)));
    expect(dup.message).toBe('message with old counter 3 / 2');
    const after = new InMemorySenderKeyStore();
    after.setRawRecord(vectorSender, f.distributionId, bytes);
    const late = new GroupCipher(after, { now: () => T0 + 1000 + 2 * 60 * 60 * 1000 });
    expect(
      await thrown(late.decrypt(vectorSender, fromHex(f.messages[0]!.senderKeyMessageHex))),
    ).toBeInstanceOf(MissingSenderKeyError);
  });

  it('record-v1-sender.bin: own chain, key holders, Ed25519 signing seed', async () => {
    const bytes = fixture('record-v1-sender.bin');
    const D = '5e1f0000-aaaa-4bbb-8ccc-000000000001';
    const alice = { name: 'alice', deviceId: 1 };
    const members = [
      { name: 'bob', deviceId: 1 },
      { name: 'bob', deviceId: 2 },
      { name: 'carol', deviceId: 1 },
    ];
    const record = SenderKeyRecord.deserialize(bytes);
    expect(record.chainIds).toEqual([107771306]);
    // Nothing of version 2 in it: written back as the same version-1 bytes, which an earlier
    // release (a tab not yet updated) still reads.
    expect(toHex(record.serialize())).toBe(toHex(bytes));
    const store = new InMemorySenderKeyStore();
    store.setRawRecord(alice, D, bytes);
    const c = new GroupCipher(store, { now: () => T0 + 1000 });
    expect(await c.keyHolders(alice, D)).toEqual(members);
    const plan = await c.prepareSend(alice, D, members);
    expect([plan.rotation, plan.needsDistribution, plan.chainId]).toEqual([undefined, [], 107771306]);
    expect(plan.distributionMessage.iteration).toBe(3);
    const bob = new GroupCipher(new InMemorySenderKeyStore());
    await bob.processDistributionMessage(alice, plan.distributionMessage);
    const wire = await c.encrypt(alice, D, utf8('still works'));
    expect(text((await bob.decrypt(alice, wire)).plaintext)).toBe('still works');
  });
});

describe('frozen fixtures, version 2', () => {
  it('record-v2-receiver.bin: the chain whose grace ended is remembered as retired, its SKDM ignored', async () => {
    const bytes = fixture('record-v2-receiver.bin');
    const f = sessions.fixed;
    const record = SenderKeyRecord.deserialize(bytes);
    expect(record.chainIds).toEqual([43, 42]);
    // the marker: the vectors' chain id and the first 16 bytes of their signing key (after the 05 type byte)
    // and the iteration it had reached (message 2 decrypted: 3)
    expect(record.retiredChains.map((r) => [r.chainId, toHex(r.keyPrint), r.iteration])).toEqual([
      [f.chainId, f.signingPublicKeyHex.slice(2, 34), 3],
    ]);
    expect(toHex(record.serialize())).toBe(toHex(bytes)); // a v2 record is written back as v2, byte for byte
    const store = new InMemorySenderKeyStore();
    store.setRawRecord(vectorSender, f.distributionId, bytes);
    const c = new GroupCipher(store, { now: () => T0 + 3 * 60 * 60 * 1000 });
    await c.processDistributionMessage(vectorSender, fromHex(f.senderKeyDistributionMessageHex));
    expect(toHex(store.rawRecord(vectorSender, f.distributionId) as Uint8Array)).toBe(toHex(bytes));
    expect((await c.tryDecrypt(vectorSender, fromHex(f.messages[0]!.senderKeyMessageHex))).status).toBe(
      'missing-sender-key',
    );
  });

  it('record-v2-sender.bin: an own chain whose creation was stored but never reported', async () => {
    const bytes = fixture('record-v2-sender.bin');
    const D = '5e1f0000-aaaa-4bbb-8ccc-000000000002';
    const alice = { name: 'alice', deviceId: 1 };
    const bob = { name: 'bob', deviceId: 1 };
    const record = SenderKeyRecord.deserialize(bytes);
    expect([record.chainIds, record.states[0]?.rotation]).toEqual([[1926745567], 'created']);
    expect(toHex(record.serialize())).toBe(toHex(bytes)); // a v2 record is written back as v2, byte for byte
    const store = new InMemorySenderKeyStore();
    store.setRawRecord(alice, D, bytes);
    const c = new GroupCipher(store, { now: () => T0 + 1000 });
    const plan = await c.prepareSend(alice, D, [bob]);
    expect([plan.rotation, plan.chainId, plan.needsDistribution]).toEqual(['created', 1926745567, [bob]]);
    expect((await c.prepareSend(alice, D, [bob])).rotation).toBeUndefined();
  });

  it('a version-1 record carrying markers, or a marker of the wrong size, is refused', () => {
    const v2 = fixture('record-v2-receiver.bin');
    const asV1 = v2.slice();
    asV1[5] = 1;
    expect(() => SenderKeyRecord.deserialize(asV1)).toThrow(DecodeError);
    const short = Uint8Array.of(...v2.subarray(0, 6), 0x12, 0x03, 0x12, 0x01, 0x00);
    expect(() => SenderKeyRecord.deserialize(short)).toThrow(DecodeError);
    const marker = v2.subarray(v2.length - 28);
    expect(toHex(marker.subarray(0, 2))).toBe('121a');
    const many = (n: number) =>
      Uint8Array.of(...v2.subarray(0, 6), ...Array.from({ length: n }, () => [...marker]).flat());
    expect(SenderKeyRecord.deserialize(many(MAX_RETIRED_CHAINS)).retiredChains).toHaveLength(
      MAX_RETIRED_CHAINS,
    );
    expect(() => SenderKeyRecord.deserialize(many(MAX_RETIRED_CHAINS + 1))).toThrow(DecodeError);
  });
});

describe('frozen key-holder fixture', () => {
  it('key-holders-v1.bin', () => {
    const bytes = fixture('key-holders-v1.bin');
    const r = KeyHolderRecord.deserialize(bytes);
    expect(r.chainId).toBe(107771306);
    expect(r.devices).toEqual([
      { name: 'bob', deviceId: 1 },
      { name: 'bob', deviceId: 2 },
      { name: 'carol', deviceId: 1 },
      { name: 'ålice ☃', deviceId: 127 },
    ]);
    if (KEY_HOLDER_RECORD_VERSION === 1) expect(toHex(r.serialize())).toBe(toHex(bytes));
    const other = bytes.slice();
    other[5] = 2;
    expect(() => KeyHolderRecord.deserialize(other)).toThrow(DecodeError);
    expect(() => KeyHolderRecord.deserialize(fixture('record-v1-sender.bin'))).toThrow(DecodeError);
    expect(() => SenderKeyRecord.deserialize(bytes)).toThrow(DecodeError);
  });
});

describe('format', () => {
  it('carries the 00 "E2SK" type tag and the format version', () => {
    // Version 1 until the record holds a retired-chain marker or a rotation reason (the version-2
    // fixtures above, written back byte for byte, carry version 2).
    const bytes = SenderKeyRecord.empty().serialize();
    expect(toHex(bytes)).toBe('004532534b01');
    expect(SenderKeyRecord.deserialize(bytes).size).toBe(0);
    expect(SENDER_KEY_RECORD_VERSION).toBe(2);
  });

  it('refuses another tag, an unknown version, and libsignal bytes given to the wrong reader', () => {
    const good = fixture('record-v1-sender.bin');
    const wrongTag = good.slice();
    wrongTag[1] = 0x46;
    const futureVersion = good.slice();
    futureVersion[5] = 3;
    const libsignalBytes = fromHex(sessions.fixed.senderRecordStorageProtobufHex);
    for (const bad of [wrongTag, futureVersion, libsignalBytes, new Uint8Array(0), good.subarray(0, 4)]) {
      expect(() => SenderKeyRecord.deserialize(bad)).toThrow(DecodeError);
    }
    expect(() => SenderKeyRecord.fromLibsignal(good)).toThrow(DecodeError);
  });

  it('libsignal storage bytes round-trip exactly (the vectors’ sender and receiver records)', () => {
    for (const hex of [
      sessions.fixed.senderRecordStorageProtobufHex,
      sessions.fixed.receiverRecordAfterSkdmHex,
    ]) {
      const r = SenderKeyRecord.fromLibsignal(fromHex(hex));
      expect(toHex(r.toLibsignal())).toBe(hex);
      expect(toHex(SenderKeyRecord.deserialize(r.serialize()).toLibsignal())).toBe(hex);
    }
  });

  it('a record with more than 5 states or 2,000 skipped keys is refused', () => {
    const state = fromHex(sessions.fixed.receiverRecordAfterSkdmHex); // one state: 0a 51 …
    const six = new Uint8Array(state.length * 6);
    for (let i = 0; i < 6; i++) six.set(state, i * state.length);
    expect(() => SenderKeyRecord.fromLibsignal(six)).toThrow(DecodeError);
    expect(SenderKeyRecord.fromLibsignal(six.subarray(0, state.length * 5)).size).toBe(5);
    const inner = state.subarray(2);
    const key = fromHex(`2222080112200000000000000000000000000000000000000000000000000000000000000000`);
    const body = new Uint8Array(inner.length + key.length * 2001);
    body.set(inner, 0);
    for (let i = 0; i < 2001; i++) body.set(key, inner.length + i * key.length);
    const prefix = [0x0a, ...varint(body.length)];
    const record = new Uint8Array([...prefix, ...body]);
    expect(() => SenderKeyRecord.fromLibsignal(record)).toThrow(DecodeError);
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

describe('key holders encoding', () => {
  it('reads the canonical form fast and any other valid protobuf the same way', async () => {
    const { decodeHolders, encodeHolders } = await import('../src/holders.js');
    const { ProtoWriter } = await import('@e2ee-kit/core');
    const devices = [
      { name: 'bob', deviceId: 1 },
      { name: 'ålice ☃', deviceId: 127 },
      { name: 'x'.repeat(1024), deviceId: 2 },
    ];
    const canonical = encodeHolders(devices);
    expect(decodeHolders(canonical).list()).toEqual(devices);
    // fields reversed, an unknown field, a repeated device: still the same set
    const w = new ProtoWriter();
    for (const d of [...devices, devices[0] as (typeof devices)[number]]) {
      w.bytes(1, new ProtoWriter().uint32(2, d.deviceId).uint32(9, 7).string(1, d.name).finish());
    }
    w.uint32(5, 1);
    expect(decodeHolders(w.finish()).list()).toEqual(devices);
    for (const bad of [
      new ProtoWriter().bytes(1, new ProtoWriter().string(1, 'bob').uint32(2, 0).finish()).finish(),
      new ProtoWriter().bytes(1, new ProtoWriter().string(1, 'bob').uint32(2, 128).finish()).finish(),
      new ProtoWriter().bytes(1, new ProtoWriter().string(1, '').uint32(2, 1).finish()).finish(),
      new ProtoWriter().bytes(1, new ProtoWriter().uint32(2, 1).finish()).finish(),
      Uint8Array.of(0x0a, 0x05, 0x0a, 0x01, 0xff, 0x10, 0x01),
    ]) {
      expect(() => decodeHolders(bad)).toThrow(DecodeError);
    }
  });

  it('devices that asked for a resend are a second list after the first, which earlier releases read alone', async () => {
    const { decodeHolderLists, decodeHolders, encodeHolders } = await import('../src/holders.js');
    const bob = { name: 'bob', deviceId: 1 };
    const carol = { name: 'carol', deviceId: 2 };
    const both = encodeHolders([bob, carol], [carol]);
    const lists = decodeHolderLists(both);
    expect([lists.holders.list(), lists.resend.list()]).toEqual([[bob, carol], [carol]]);
    expect(decodeHolders(both).list()).toEqual([bob, carol]); // field 2 skipped, as before
    const record = KeyHolderRecord.deserialize(
      KeyHolderRecord.create(9, [bob, carol], [carol, bob, { name: 'x', deviceId: 1 }]).serialize(),
    );
    expect(record.devices).toEqual([bob, carol]);
    const again = decodeHolderLists(record.encodedDevices).resend.list();
    expect(again).toEqual([carol, bob]); // only devices of the first list
    // a position, not a second copy: a rotation listing every member barely grows the list
    const many = Array.from({ length: 1000 }, (_, i) => ({
      name: `member-${i}-of-a-large-group`,
      deviceId: 1,
    }));
    expect(encodeHolders(many, many).length).toBeLessThan(encodeHolders(many).length * 1.15);
    expect(() => decodeHolderLists(Uint8Array.of(...encodeHolders([bob]), 0x10, 0x01))).toThrow(DecodeError);
    expect(() => decodeHolderLists(Uint8Array.of(...encodeHolders([bob]), 0x12, 0x00))).toThrow(DecodeError);
  });

  it('a record edited on disk with a 300,000-character device name: DecodeError, not a stack overflow', async () => {
    const { decodeHolders } = await import('../src/holders.js');
    const { ProtoWriter } = await import('@e2ee-kit/core');
    const device = (name: string) =>
      new ProtoWriter().bytes(1, new ProtoWriter().string(1, name).uint32(2, 1).finish()).finish();
    for (const length of [1025, 300_000]) {
      expect(() => decodeHolders(device('a'.repeat(length)))).toThrow(DecodeError);
    }
    // The same list inside an own state (a store without key-holder methods), read by the membership calls.
    const bytes = new InMemorySenderKeyStore();
    const store = {
      loadSenderKey: bytes.loadSenderKey.bind(bytes),
      storeSenderKey: bytes.storeSenderKey.bind(bytes),
    };
    const c = new GroupCipher(store);
    const me = { name: 'me', deviceId: 1 };
    const bob = { name: 'bob', deviceId: 1 };
    const id = sessions.fixed.distributionId;
    await c.prepareSend(me, id, [bob]);
    const own = (await store.loadSenderKey(me, id)) as SenderKeyRecord;
    const state = { ...(own.states[0] as (typeof own.states)[number]), holders: device('a'.repeat(300_000)) };
    bytes.setRawRecord(me, id, SenderKeyRecord.fromStates([state]).serialize());
    expect(await thrown(c.prepareSend(me, id, [bob]))).toBeInstanceOf(DecodeError);
    expect(await thrown(c.keyHolders(me, id))).toBeInstanceOf(DecodeError);
  });
});
