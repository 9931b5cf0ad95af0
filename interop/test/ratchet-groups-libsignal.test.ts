// Unknown protobuf groups in SignalMessage, PreKeySignalMessage and session records, decided as
// libsignal-client 0.103.0 (prost's skip_field) decides them: the same bytes are accepted by our
// deserializers exactly when libsignal's accept them, each case's outcome also written down from
// prost's rules. Then decrypts: a group outside any MAC (a PreKeySignalMessage's outer protobuf) is
// skipped by both sides, one inside a SignalMessage fails its MAC on both sides, as any bad MAC does.
import { DecodeError, E2eeError, platformProvider } from '@e2ee-kit/core';
import { PreKeySignalMessage, SessionRecord, SignalMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { lib103 as L, libs } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const start = (field: number) => field * 8 + 3;
const end = (field: number) => field * 8 + 4;
const nested = (depth: number, inner: number[] = []) => [
  ...new Array<number>(depth).fill(start(9)),
  ...inner,
  ...new Array<number>(depth).fill(end(9)),
];
/** The same with field 200 (two-byte keys): session structures use field 9, on both sides; not 200. */
const nested200 = (depth: number, inner: number[] = []) => [
  ...Array.from({ length: depth }, () => [0xc3, 0x0c]).flat(),
  ...inner,
  ...Array.from({ length: depth }, () => [0xc4, 0x0c]).flat(),
];

/** Groups of unknown fields at the top level of a message, with prost's decision. */
const CASES: Array<[string, number[], boolean]> = [
  ['empty group', [start(9), end(9)], true],
  [
    'group of every wire type',
    [
      start(9),
      0x10,
      99,
      0x1a,
      1,
      0xaa,
      0x25,
      1,
      2,
      3,
      4,
      0x41,
      ...new Array(8).fill(0),
      start(10),
      end(10),
      end(9),
    ],
    true,
  ],
  ['100 nested groups', nested(100), true],
  ['a field inside the 100th nested group', nested(100, [0x08, 1]), false],
  ['101 nested groups', nested(101), false],
  ['mismatched end-group', [start(9), end(10)], false],
  ['end-group with no start', [end(9)], false],
  ['group never ended', [start(9), 0x08, 1], false],
];

/** Empty groups of field 1..16: refused for the fields a message defines (wire-type mismatch). */
const fieldSweep = (known: number): Array<[string, number[], boolean]> =>
  Array.from({ length: 16 }, (_, i) => [
    `field ${i + 1} as a group`,
    [...varint(start(i + 1)), ...varint(end(i + 1))],
    i + 1 > known,
  ]);

function ours(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    expect(err).toBeInstanceOf(DecodeError);
    return false;
  }
}

function theirs(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch {
    return false;
  }
}

const splice = (bytes: Uint8Array, at: number, group: number[]): Uint8Array<ArrayBuffer> =>
  Uint8Array.from([...bytes.subarray(0, at), ...group, ...bytes.subarray(at)]);

function varint(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
  out.push(v);
  return out;
}

/** `body` (`from` header bytes, then varint and length-delimited fields) with field `field` edited. */
function editField(
  body: Uint8Array,
  from: number,
  field: number,
  edit: (v: Uint8Array) => Uint8Array,
): Uint8Array<ArrayBuffer> {
  const out: number[] = [...body.subarray(0, from)];
  let pos = from;
  const read = () => {
    let v = 0;
    for (let mul = 1; ; mul *= 0x80) {
      const b = body[pos++] as number;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
    }
  };
  let found = false;
  while (pos < body.length) {
    const key = read();
    if (key % 8 === 0) {
      const at = pos;
      read();
      out.push(...varint(key), ...body.subarray(at, pos));
    } else if (key % 8 === 2) {
      const len = read();
      const value = body.subarray(pos, pos + len);
      pos += len;
      const mine = Math.floor(key / 8) === field;
      if (mine) found = true;
      const v = mine ? edit(value) : value;
      out.push(...varint(key), ...varint(v.length), ...v);
    } else throw new Error('unexpected wire type in a real message');
  }
  expect(found, `field ${field} present`).toBe(true);
  return Uint8Array.from(out);
}

const flipLast = (b: Uint8Array): Uint8Array<ArrayBuffer> => {
  const c = Uint8Array.from(b);
  c[c.length - 1] = (c[c.length - 1] as number) ^ 1;
  return c;
};

/** libsignal initiates to us: its PreKey message, our reply, its whisper message. */
async function conversation() {
  const us = await ourEndpoint({ provider: platformProvider, providerLabel: 'platform' });
  const them = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
  await them.processBundle(us.address, await us.createBundle());
  const prekey = await them.encrypt(us.address, enc.encode('first'));
  expect(prekey.type).toBe('prekey');
  return { us, them, prekey };
}

describe('unknown groups: our decisions are libsignal 0.103.0 (prost) decisions', () => {
  it('SignalMessage (groups after the version byte, before the MAC)', async () => {
    const { us, them, prekey } = await conversation();
    await us.decrypt(them.address, prekey);
    await them.decrypt(us.address, await us.encrypt(them.address, enc.encode('reply')));
    const whisper = await them.encrypt(us.address, enc.encode('whisper'));
    expect(whisper.type).toBe('whisper');
    for (const [what, group, accepted] of [...CASES, ...fieldSweep(6)]) {
      const bytes = splice(whisper.body, 1, group);
      expect(
        theirs(() => L.SignalMessage.deserialize(bytes)),
        `libsignal, ${what}`,
      ).toBe(accepted);
      expect(
        ours(() => SignalMessage.deserialize(bytes)),
        `ours, ${what}`,
      ).toBe(accepted);
    }
  });

  it('PreKeySignalMessage: in the outer protobuf and in the inner SignalMessage (field 4)', async () => {
    const { prekey } = await conversation();
    for (const [what, group, accepted] of [...CASES, ...fieldSweep(8)]) {
      const outer = splice(prekey.body, 1, group);
      expect(
        theirs(() => L.PreKeySignalMessage.deserialize(outer)),
        `libsignal, outer, ${what}`,
      ).toBe(accepted);
      expect(
        ours(() => PreKeySignalMessage.deserialize(outer)),
        `ours, outer, ${what}`,
      ).toBe(accepted);
    }
    for (const [what, group, accepted] of [...CASES, ...fieldSweep(6)]) {
      const inner = editField(prekey.body, 1, 4, (m) => splice(m, 1, group));
      expect(
        theirs(() => L.PreKeySignalMessage.deserialize(inner)),
        `libsignal, inner, ${what}`,
      ).toBe(accepted);
      expect(
        ours(() => PreKeySignalMessage.deserialize(inner)),
        `ours, inner, ${what}`,
      ).toBe(accepted);
    }
  });

  it('session records: a group in the current state (a nested message) has one level fewer on both sides', async () => {
    const { us, them, prekey } = await conversation();
    await us.decrypt(them.address, prekey);
    const theirRecord = them.party.sessionBytes(us.address);
    const ourRecord = (await us.store.getSession(them.address))?.serialize();
    expect(theirRecord && ourRecord).toBeTruthy();
    // libsignal's record is the bare RecordStructure; ours has a 2-byte header before it.
    const cases: Array<[string, number[], boolean]> = [
      ['a group with a field', nested200(1, [0x08, 1]), true],
      ['99 nested groups', nested200(99), true],
      ['100 nested groups', nested200(100), false],
      ['mismatched end-group', [0xc3, 0x0c, 0xcc, 0x0c], false],
      // Field 9 is pending_pre_key on both sides: a known field sent as a group.
      ['known field 9 as a group', [start(9), end(9)], false],
    ];
    for (const [what, group, accepted] of cases) {
      const t = editField(theirRecord as Uint8Array, 0, 1, (v) => splice(v, 0, group));
      const o = editField(ourRecord as Uint8Array, 2, 1, (v) => splice(v, 0, group));
      expect(
        theirs(() => L.SessionRecord.deserialize(t)),
        `libsignal, ${what}`,
      ).toBe(accepted);
      expect(
        ours(() => SessionRecord.deserialize(o)),
        `ours, ${what}`,
      ).toBe(accepted);
    }
    // At the top level of the record, 100 levels as in a message.
    for (const [what, group, accepted] of CASES) {
      expect(
        theirs(() => L.SessionRecord.deserialize(splice(theirRecord as Uint8Array, 0, group))),
        what,
      ).toBe(accepted);
      expect(
        ours(() => SessionRecord.deserialize(splice(ourRecord as Uint8Array, 2, group))),
        what,
      ).toBe(accepted);
    }
  });
});

describe('decrypting messages with a group added', () => {
  const group = [start(9), 0x08, 1, end(9)];

  it("libsignal → us: a group in the PreKey message's outer protobuf is skipped; in a SignalMessage it is a bad MAC", async () => {
    const { us, them, prekey } = await conversation();
    expect(
      dec.decode(await us.decrypt(them.address, { type: 'prekey', body: splice(prekey.body, 1, group) })),
    ).toBe('first');
    await them.decrypt(us.address, await us.encrypt(them.address, enc.encode('reply')));
    const whisper = await them.encrypt(us.address, enc.encode('whisper'));
    const before = await us.snapshot(them.address);
    const macError = await us
      .decrypt(them.address, { type: 'whisper', body: flipLast(whisper.body) })
      .catch((e: unknown) => e);
    expect(E2eeError.is(macError)).toBe(true);
    for (const g of [group, nested(100)]) {
      const err = await us
        .decrypt(them.address, { type: 'whisper', body: splice(whisper.body, 1, g) })
        .catch((e: unknown) => e);
      expect((err as object).constructor).toBe((macError as object).constructor);
      expect((err as E2eeError).code).toBe((macError as E2eeError).code);
      expect(await us.snapshot(them.address)).toBe(before);
    }
    expect(dec.decode(await us.decrypt(them.address, whisper))).toBe('whisper');
  });

  it('us → libsignal: libsignal skips the same group in our PreKey message and refuses it in our SignalMessage', async () => {
    const us = await ourEndpoint({ provider: platformProvider, providerLabel: 'platform' });
    const them = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
    await us.processBundle(them.address, await them.createBundle());
    const prekey = await us.encrypt(them.address, enc.encode('first'));
    expect(prekey.type).toBe('prekey');
    expect(
      dec.decode(await them.decrypt(us.address, { type: 'prekey', body: splice(prekey.body, 1, group) })),
    ).toBe('first');
    await us.decrypt(them.address, await them.encrypt(us.address, enc.encode('reply')));
    const whisper = await us.encrypt(them.address, enc.encode('whisper'));
    expect(whisper.type).toBe('whisper');
    const macError = await them
      .decrypt(us.address, { type: 'whisper', body: flipLast(whisper.body) })
      .catch((e: unknown) => e);
    const err = await them
      .decrypt(us.address, { type: 'whisper', body: splice(whisper.body, 1, group) })
      .catch((e: unknown) => e);
    expect(macError).toBeInstanceOf(Error);
    expect((err as object).constructor).toBe((macError as object).constructor);
    expect((err as { code?: unknown }).code).toBe((macError as { code?: unknown }).code);
    expect(dec.decode(await them.decrypt(us.address, whisper))).toBe('whisper');
  });
});
