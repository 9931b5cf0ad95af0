// Unknown protobuf groups (wire types 3/4) in SignalMessage, PreKeySignalMessage and session records:
// skipped as prost's `skip_field` skips them (libsignal reads all of these with prost), so a message
// libsignal accepts is not refused here. Every expected decision is written down from prost's rules;
// interop/test/ratchet-groups-libsignal.test.ts asks libsignal-client 0.103.0 for the same decisions.
import { DecodeError, E2eeError, platformProvider } from '@e2ee-kit/core';
import { PreKeySignalMessage, SessionRecord, SignalMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { FastReader } from '../src/records/fast-proto.js';
import { fromUtf8, makePair, rejectsWithoutChange, utf8 } from './helpers.js';

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

/** Groups of unknown fields with prost's decision for them at the top level of a message. */
const CASES: Array<[string, number[], boolean]> = [
  ['empty group', [start(9), end(9)], true],
  // Field 2 inside the group is the group's, not the message's counter: skipped, not read.
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
  ['a group with a 5-byte field number', [0xfb, 0xff, 0xff, 0xff, 0x0f, 0xfc, 0xff, 0xff, 0xff, 0x0f], true],
  ['100 nested groups', nested(100), true],
  ['a field inside the 100th nested group', nested(100, [0x08, 1]), false],
  ['101 nested groups', nested(101), false],
  ['mismatched end-group', [start(9), end(10)], false],
  ['end-group with no start', [end(9)], false],
  ['group never ended (the rest of the message is inside it)', [start(9), 0x08, 1], false],
  ['wire type 6 inside a group', [start(9), 0x0e, end(9)], false],
  // ratchet_key (SignalMessage) and pre_key_id (PreKeySignalMessage) are known: a group is a wire-type mismatch.
  ['a known field (1) sent as a group', [start(1), end(1)], false],
];

function accepts(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    // Refusals are DecodeErrors, never a crash of another kind.
    expect(err).toBeInstanceOf(DecodeError);
    return false;
  }
}

const splice = (bytes: Uint8Array, at: number, group: number[]): Uint8Array =>
  Uint8Array.from([...bytes.subarray(0, at), ...group, ...bytes.subarray(at)]);

function varint(v: number): number[] {
  const out: number[] = [];
  for (; v >= 0x80; v = Math.floor(v / 0x80)) out.push((v % 0x80) | 0x80);
  out.push(v);
  return out;
}

/**
 * `body` (a version byte or `from` prefix bytes, then a protobuf of varint and length-delimited
 * fields) with length-delimited field `field` replaced by `edit(value)`, its length re-encoded.
 */
function editField(
  body: Uint8Array,
  from: number,
  field: number,
  edit: (v: Uint8Array) => Uint8Array,
): Uint8Array {
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

async function messages() {
  const p = await makePair(platformProvider);
  await p.a.initiate(await p.bob.bundle());
  const prekey = await p.a.encrypt(utf8('first'));
  expect(prekey.type).toBe('prekey');
  expect(fromUtf8((await p.b.decrypt(prekey)).plaintext)).toBe('first');
  const whisper = await p.b.encrypt(utf8('reply'));
  expect(whisper.type).toBe('whisper');
  return { p, prekey, whisper };
}

describe('unknown groups in wire messages are skipped as prost skips them', () => {
  it('SignalMessage: each case decided as prost decides it, and the known fields are unchanged', async () => {
    const { whisper } = await messages();
    const valid = SignalMessage.deserialize(whisper.body);
    for (const [what, group, accepted] of CASES) {
      const bytes = splice(whisper.body, 1, group);
      expect(
        accepts(() => SignalMessage.deserialize(bytes)),
        what,
      ).toBe(accepted);
      if (!accepted) continue;
      const m = SignalMessage.deserialize(bytes);
      expect(m.counter, what).toBe(valid.counter);
      expect(m.ratchetKey.serialize(), what).toEqual(valid.ratchetKey.serialize());
      expect(m.ciphertext, what).toEqual(valid.ciphertext);
      // The MAC'd bytes are the bytes received, group included.
      expect(m.serialize(), what).toEqual(bytes);
    }
  });

  it('PreKeySignalMessage: in the outer message and in the inner SignalMessage', async () => {
    const { prekey } = await messages();
    const valid = PreKeySignalMessage.deserialize(prekey.body);
    for (const [what, group, accepted] of CASES) {
      const outer = splice(prekey.body, 1, group);
      expect(
        accepts(() => PreKeySignalMessage.deserialize(outer)),
        `outer, ${what}`,
      ).toBe(accepted);
      if (accepted) expect(PreKeySignalMessage.deserialize(outer).preKeyId).toBe(valid.preKeyId);
      // The inner message is its own top-level protobuf (a bytes field, decoded on its own).
      const inner = editField(prekey.body, 1, 4, (m) => splice(m, 1, group));
      expect(
        accepts(() => PreKeySignalMessage.deserialize(inner)),
        `inner, ${what}`,
      ).toBe(accepted);
    }
  });
});

describe('decrypting a message with a group added', () => {
  it('SignalMessage: refused as any bad MAC is (the group is MACed), nothing stored changes', async () => {
    const { p, whisper } = await messages();
    const badMac = whisper.body.slice();
    badMac[badMac.length - 1] = (badMac[badMac.length - 1] as number) ^ 1;
    const macError = await rejectsWithoutChange([p.alice.store], () =>
      p.a.decrypt({ type: 'whisper', body: badMac }),
    );
    expect(E2eeError.is(macError)).toBe(true);
    for (const group of [[start(9), end(9)], nested(100)]) {
      const body = splice(whisper.body, 1, group);
      const err = await rejectsWithoutChange([p.alice.store], () => p.a.decrypt({ type: 'whisper', body }));
      expect((err as object).constructor).toBe((macError as object).constructor);
      expect((err as E2eeError).code).toBe((macError as E2eeError).code);
    }
    expect(fromUtf8((await p.a.decrypt(whisper)).plaintext)).toBe('reply');
  });

  it('PreKeySignalMessage: a group in the outer message (not MACed) is skipped and the message decrypts', async () => {
    const p = await makePair(platformProvider);
    await p.a.initiate(await p.bob.bundle());
    const first = await p.a.encrypt(utf8('first'));
    const body = splice(first.body, 1, [start(9), 0x08, 1, end(9)]);
    expect(fromUtf8((await p.b.decrypt({ type: 'prekey', body })).plaintext)).toBe('first');
  });

  it('PreKeySignalMessage: a group in the inner SignalMessage is refused as a bad inner MAC, nothing changes', async () => {
    const p = await makePair(platformProvider);
    await p.a.initiate(await p.bob.bundle());
    const first = await p.a.encrypt(utf8('first'));
    const badMac = editField(first.body, 1, 4, (m) => {
      const c = m.slice();
      c[c.length - 1] = (c[c.length - 1] as number) ^ 1;
      return c;
    });
    const macError = await rejectsWithoutChange([p.bob.store], () =>
      p.b.decrypt({ type: 'prekey', body: badMac }),
    );
    const body = editField(first.body, 1, 4, (m) => splice(m, 1, [start(9), end(9)]));
    const err = await rejectsWithoutChange([p.bob.store], () => p.b.decrypt({ type: 'prekey', body }));
    expect((err as object).constructor).toBe((macError as object).constructor);
    expect((err as E2eeError).code).toBe((macError as E2eeError).code);
    expect(fromUtf8((await p.b.decrypt(first)).plaintext)).toBe('first');
  });
});

describe('unknown groups in session records', () => {
  async function record(): Promise<Uint8Array> {
    const { p } = await messages();
    const r = await p.bob.store.getSession(p.alice.address);
    expect(r).toBeTruthy();
    return (r as SessionRecord).serialize();
  }

  it('in the record and in its current state (a nested message: one level fewer, as prost counts)', async () => {
    const bytes = await record();
    const state = (r: SessionRecord) => r.serialize();
    // RecordStructure is a top-level message after the 2-byte record header.
    for (const [what, group, accepted] of CASES.slice(0, -1)) {
      expect(
        accepts(() => SessionRecord.deserialize(splice(bytes, 2, group))),
        `record, ${what}`,
      ).toBe(accepted);
    }
    const inState = (group: number[]) => editField(bytes, 2, 1, (v) => splice(v, 0, group));
    // Re-encoded without the group: what was read is the state as stored.
    expect(state(SessionRecord.deserialize(inState(nested200(1, [0x08, 1]))))).toEqual(bytes);
    expect(accepts(() => SessionRecord.deserialize(inState(nested200(99))))).toBe(true);
    expect(accepts(() => SessionRecord.deserialize(inState(nested200(100))))).toBe(false);
    expect(accepts(() => SessionRecord.deserialize(inState([0xc3, 0x0c, 0xcc, 0x0c])))).toBe(false);
    // Field 9 of a session state is its pending pre-key: sent as a group, a wire-type mismatch.
    expect(accepts(() => SessionRecord.deserialize(inState([start(9), end(9)])))).toBe(false);
  });
});

describe('FastReader: groups are skipped in linear work', () => {
  /** `bytes` behind a proxy that counts element reads (the reader reads bytes only by index). */
  function counted(bytes: Uint8Array): { buf: Uint8Array; reads: () => number } {
    let n = 0;
    const buf = new Proxy(bytes, {
      get(target, key) {
        if (typeof key === 'string' && /^\d+$/.test(key)) n++;
        return Reflect.get(target, key);
      },
    });
    return { buf, reads: () => n };
  }

  function decide(bytes: Uint8Array): { accepted: boolean; reads: number } {
    const { buf, reads } = counted(bytes);
    const r = new FastReader(buf);
    const accepted = accepts(() => {
      while (r.next()) r.skip();
    });
    return { accepted, reads: reads() };
  }

  const K64 = 64 * 1024;
  const repeat = (unit: number[], bytes: number) =>
    Array.from({ length: Math.floor(bytes / unit.length) }, () => unit).flat();

  it.each<[string, number[], boolean]>([
    ['32,768 sequential empty groups', repeat([start(9), end(9)], K64), true],
    ['327 runs of 100 nested empty groups', repeat(nested(100), K64), true],
    [
      '99 nested groups around 32,669 sequential empty ones',
      nested(99, repeat([start(9), end(9)], K64 - 198)),
      true,
    ],
    ['65,536 group starts', new Array(K64).fill(start(9)), false],
    ['runs of 100 nested groups, then 101', [...repeat(nested(100), K64 - 202), ...nested(101)], false],
    ['sequential groups never ended', [start(9), ...repeat([start(10), end(10)], K64 - 1)], false],
  ])('%s: decided reading each byte at most once', (_what, input, accepted) => {
    const bytes = Uint8Array.from(input);
    expect(bytes.length).toBeGreaterThan(K64 - 256);
    const d = decide(bytes);
    expect(d.accepted).toBe(accepted);
    expect(d.reads).toBeLessThanOrEqual(bytes.length);
    if (accepted) expect(d.reads).toBe(bytes.length);
  });

  it('a nested message reader has one level fewer; none left refuses a nested message or a skip', () => {
    // Field 1 holding `inner`; the outer reader is top-level (100 levels), its sub-reader has 99.
    const wrap = (inner: number[]) => Uint8Array.from([0x0a, ...varint(inner.length), ...inner]);
    const skipInSub = (bytes: Uint8Array) =>
      accepts(() => {
        const r = new FastReader(bytes);
        expect(r.next()).toBe(true);
        const s = r.sub();
        while (s.next()) s.skip();
      });
    expect(skipInSub(wrap(nested(99)))).toBe(true);
    expect(skipInSub(wrap(nested(100)))).toBe(false);
    // 100 messages nested in field 1: the 100th is read with 0 levels left, the 101st is refused.
    const messagesDeep = (n: number, inner: number[]) => {
      let b = inner;
      for (let i = 0; i < n; i++) b = [0x0a, ...varint(b.length), ...b];
      return Uint8Array.from(b);
    };
    const walk = (bytes: Uint8Array) =>
      accepts(() => {
        let r = new FastReader(bytes);
        while (r.next()) {
          if (r.field === 1) r = r.sub();
          else r.uint32();
        }
      });
    const skipAll = (bytes: Uint8Array) =>
      accepts(() => {
        let r = new FastReader(bytes);
        while (r.next()) {
          if (r.field === 1) r = r.sub();
          else r.skip();
        }
      });
    expect(walk(messagesDeep(100, [0x10, 1]))).toBe(true);
    expect(walk(messagesDeep(101, []))).toBe(false);
    // A known scalar still reads with no level left; an unknown field cannot be skipped (prost).
    expect(skipAll(messagesDeep(99, [0x10, 1]))).toBe(true);
    expect(skipAll(messagesDeep(100, [0x10, 1]))).toBe(false);
  });
});
