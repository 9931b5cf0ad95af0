// Wire and record codecs: exact round trips, and malformed input of any kind → DecodeError only.
import { DecodeError, E2eeError, platformProvider, toHex } from '@e2ee-kit/core';
import {
  ARCHIVED_STATES_MAX_LENGTH,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStateRecord,
  SessionRecord,
  SignalMessage,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { establishedPair, type Pair, rejectsWithoutChange, utf8 } from './helpers.js';

interface Samples {
  p: Pair;
  prekey: Uint8Array;
  whisper: Uint8Array;
  session: Uint8Array;
  preKey: Uint8Array;
  signed: Uint8Array;
  kyber: Uint8Array;
  state: Uint8Array;
  bundle: Uint8Array;
}
let s: Samples;

beforeAll(async () => {
  const p = await establishedPair(platformProvider);
  const bundle = await p.bob.bundle();
  await p.a.initiate(bundle);
  const prekey = (await p.a.encrypt(utf8('prekey'))).body;
  await p.b.decrypt({ type: 'prekey', body: prekey });
  const whisper = (await p.b.encrypt(utf8('whisper'))).body;
  const identity = await p.bob.store.getIdentityKeyPair();
  const { generateKyberPreKey, generatePreKeys, generateSignedPreKey } = await import('@e2ee-kit/ratchet');
  s = {
    p,
    prekey,
    whisper,
    session: ((await p.bob.store.getSession(p.alice.address)) as SessionRecord).serialize(),
    preKey: ((await generatePreKeys(5, 1))[0] as PreKeyRecord).serialize(),
    signed: (await generateSignedPreKey(identity, 9)).serialize(),
    kyber: (await generateKyberPreKey(identity, 11, { lastResort: true })).serialize(),
    state: ((await p.bob.store.getPreKeyState()) as PreKeyStateRecord).serialize(),
    bundle: bundle.serialize(),
  };
});

const decoders: [string, keyof Samples, (b: Uint8Array) => { serialize(): Uint8Array }][] = [
  ['PreKeySignalMessage', 'prekey', PreKeySignalMessage.deserialize],
  ['SignalMessage', 'whisper', SignalMessage.deserialize],
  ['SessionRecord', 'session', SessionRecord.deserialize],
  ['PreKeyRecord', 'preKey', PreKeyRecord.deserialize],
  ['SignedPreKeyRecord', 'signed', SignedPreKeyRecord.deserialize],
  ['KyberPreKeyRecord', 'kyber', KyberPreKeyRecord.deserialize],
  ['PreKeyStateRecord', 'state', PreKeyStateRecord.deserialize],
  ['PreKeyBundle', 'bundle', PreKeyBundle.deserialize],
];

/** Decoding either succeeds or throws DecodeError — never anything else. */
function onlyDecodeError(decode: (b: Uint8Array) => unknown, bytes: Uint8Array): void {
  try {
    decode(bytes);
  } catch (err) {
    if (!(err instanceof DecodeError))
      throw new Error(`not a DecodeError: ${String(err)} for ${toHex(bytes)}`);
  }
}

/** Mutations of a valid encoding: truncation, byte overwrite, insertion, deletion. */
const mutation = (len: number) =>
  fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat(len) }),
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(Math.max(0, len - 1)), value: fc.nat(255) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(len), value: fc.nat(255) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(Math.max(0, len - 1)) }),
  );

function mutate(bytes: Uint8Array, muts: { kind: string; at: number; value?: number }[]): Uint8Array {
  let b = Array.from(bytes);
  for (const m of muts) {
    const at = Math.min(m.at, b.length);
    if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'set' && at < b.length) b[at] = m.value as number;
    else if (m.kind === 'insert') b.splice(at, 0, m.value as number);
    else if (m.kind === 'delete') b.splice(at, 1);
  }
  return Uint8Array.from(b);
}

describe('codecs', () => {
  it.each(decoders)('%s: deserialize → serialize gives the same bytes', (_name, key, decode) => {
    const bytes = s[key] as Uint8Array;
    expect(toHex(decode(bytes).serialize())).toBe(toHex(bytes));
  });

  it.each(decoders)('%s: random bytes → DecodeError only', (_name, key, decode) => {
    const prefix = (s[key] as Uint8Array).subarray(0, 2);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, keepHeader) => {
        const input = keepHeader ? Uint8Array.from([...prefix, ...bytes]) : bytes;
        onlyDecodeError(decode, input);
      }),
      { numRuns: 400 },
    );
  });

  it.each(decoders)('%s: mutated valid encodings → DecodeError only', (_name, key, decode) => {
    const bytes = s[key] as Uint8Array;
    fc.assert(
      fc.property(fc.array(mutation(bytes.length), { minLength: 1, maxLength: 4 }), (muts) => {
        onlyDecodeError(decode, mutate(bytes, muts));
      }),
      { numRuns: 300 },
    );
  });

  it('truncation at every length: DecodeError, or (if still well-formed) a refused decrypt', async () => {
    for (const [type, bytes] of [
      ['prekey', s.prekey],
      ['whisper', s.whisper],
    ] as const) {
      const decode = type === 'prekey' ? PreKeySignalMessage.deserialize : SignalMessage.deserialize;
      for (let n = 0; n < bytes.length; n++) {
        const cut = bytes.subarray(0, n);
        onlyDecodeError(decode, cut);
        const err = await rejectsWithoutChange([s.p.bob.store], () => s.p.b.decrypt({ type, body: cut }));
        expect(E2eeError.is(err)).toBe(true);
      }
    }
  });

  it('a huge declared length is refused without allocating', () => {
    // version byte, then field 4 (ciphertext) declaring 2^31 bytes.
    const evil = Uint8Array.from([0x44, 0x22, 0x80, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => SignalMessage.deserialize(evil)).toThrow(DecodeError);
    expect(() => PreKeySignalMessage.deserialize(evil)).toThrow(DecodeError);
  });

  it('versions: < 3 legacy, > 4 unrecognized', () => {
    const w = s.whisper.slice();
    w[0] = 0x24;
    expect(() => SignalMessage.deserialize(w)).toThrow(
      expect.objectContaining({ code: 'LEGACY_CIPHERTEXT_VERSION' }),
    );
    w[0] = 0x54;
    expect(() => SignalMessage.deserialize(w)).toThrow(
      expect.objectContaining({ code: 'UNRECOGNIZED_CIPHERTEXT_VERSION' }),
    );
  });

  it('a ratchet key with an unknown type byte: DecodeError with code INVALID_KEY (libsignal: BadKeyType), through decrypt too', async () => {
    // version byte, then field 1 (ratchet key): tag 0x0a, length 33, the key's type byte 0x05 (Curve25519).
    expect([...s.whisper.subarray(1, 4)]).toEqual([0x0a, 33, 0x05]);
    const w = s.whisper.slice();
    w[3] = 0x06;
    const err = (() => {
      try {
        SignalMessage.deserialize(w);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect(E2eeError.is(err, 'INVALID_KEY')).toBe(true);
    // Bob's message to Alice: the same refusal reaches Alice's decrypt unchanged.
    const viaDecrypt = await rejectsWithoutChange([s.p.alice.store], () =>
      s.p.a.decrypt({ type: 'whisper', body: w }),
    );
    expect(viaDecrypt).toBeInstanceOf(DecodeError);
    expect(E2eeError.is(viaDecrypt, 'INVALID_KEY')).toBe(true);
  });

  it(`a stored SessionRecord with more than ${ARCHIVED_STATES_MAX_LENGTH} archived states is a DecodeError`, () => {
    const record = SessionRecord.deserialize(s.session);
    const bare = SessionRecord.fromParts(record.currentState, []).serialize();
    // Field 2 (an archived state), length 1: what the reader counts before looking inside.
    const withArchived = (n: number) =>
      Uint8Array.from([...bare, ...Array.from({ length: n }, () => [0x12, 1, 0]).flat()]);
    expect(SessionRecord.deserialize(withArchived(ARCHIVED_STATES_MAX_LENGTH)).archivedStateCount).toBe(
      ARCHIVED_STATES_MAX_LENGTH,
    );
    expect(() => SessionRecord.deserialize(withArchived(ARCHIVED_STATES_MAX_LENGTH + 1))).toThrow(
      DecodeError,
    );
  });

  it('records refuse another record type and unknown format versions', () => {
    expect(() => PreKeyRecord.deserialize(s.signed)).toThrow(DecodeError);
    expect(() => SessionRecord.deserialize(s.bundle)).toThrow(DecodeError);
    const future = s.session.slice();
    future[1] = 99;
    expect(() => SessionRecord.deserialize(future)).toThrow(DecodeError);
  });

  it('SessionCipher.decrypt of garbage: typed errors only, nothing changes', async () => {
    const stores = [s.p.bob.store];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<'prekey' | 'whisper'>('prekey', 'whisper'),
        fc.array(mutation(s.whisper.length), { minLength: 1, maxLength: 3 }),
        fc.uint8Array({ maxLength: 80 }),
        fc.boolean(),
        async (type, muts, random, useRandom) => {
          const body = useRandom ? random : mutate(type === 'prekey' ? s.prekey : s.whisper, muts);
          const err = await rejectsWithoutChange(stores, () => s.p.b.decrypt({ type, body }));
          expect(E2eeError.is(err)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });
});
