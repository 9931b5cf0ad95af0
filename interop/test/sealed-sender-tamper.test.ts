// Tampering and garbage against libsignal-client 0.103.0 (issue 15, point 3):
// - a bit-flip sweep over sealed v1 and v2 messages libsignal produced: every flip is refused by us with
//   a typed error exactly when libsignal refuses it (the only flips both accept are the version byte's
//   bits neither reads), the caller's bytes stay untouched, and afterwards the untampered message still
//   opens on both sides and libsignal's session decrypts it (nothing was consumed);
// - the same sweep over a SentMessage: our server-side parse accepts exactly what libsignal's does and
//   splits it to the same bytes (device and registration ids are not authenticated, by design);
// - mutated and random inputs to every decoder: ours accepts exactly what libsignal accepts, and refuses
//   everything else with an E2eeError; a SentMessage claiming 10^6 recipients is refused at once.
import { E2eeError, encodeVarint, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  ContentHint,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { lib103 as L } from '../src/libsignal.js';
import {
  ab,
  createWorld,
  hex,
  libEncrypt,
  libGroupMessage,
  libOpen,
  libSplit,
  ourSplit,
  type World,
} from './sealed-sender-parties.js';

let w: World;
/** libsignal-sealed messages to bob: v1 and the v2 ReceivedMessage, with a sender-key content (short). */
const samples = {
  v1: new Uint8Array(),
  v2: new Uint8Array(),
  sent: new Uint8Array(),
  usmc: new Uint8Array(),
};

beforeAll(async () => {
  w = await createWorld(3);
  const group = await libGroupMessage(w.alice, 'tamper with me');
  const usmc = L.UnidentifiedSenderMessageContent.new(
    group.msg,
    w.aliceLibCert,
    ContentHint.Resendable,
    null,
  );
  samples.usmc = new Uint8Array(usmc.serialize());
  samples.v1 = new Uint8Array(await L.sealedSenderEncrypt(usmc, w.bob.addr, w.alice.p.stores.identity));
  const sent = await L.sealedSenderMultiRecipientEncrypt({
    content: usmc,
    recipients: [w.bob.addr],
    identityStore: w.alice.p.stores.identity,
    sessionStore: w.alice.p.stores.session,
  });
  samples.v2 = new Uint8Array(L.sealedSenderMultiRecipientMessageForSingleRecipient(sent));
  samples.sent = new Uint8Array(
    await L.sealedSenderMultiRecipientEncrypt({
      content: usmc,
      recipients: [w.many[0]!.addr, w.firstSecondDevice.addr, w.many[1]!.addr],
      excludedRecipients: [L.Aci.fromUuid(w.many[2]!.p.address.name)],
      identityStore: w.alice.p.stores.identity,
      sessionStore: w.alice.p.stores.session,
    }),
  );
}, 600_000);

function flip(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}

/** Our outcome: the USMC bytes, or the error (which must be one of ours). */
async function ours(p: Promise<{ serialize(): Uint8Array }>): Promise<string> {
  try {
    return hex((await p).serialize());
  } catch (err) {
    if (!E2eeError.is(err)) throw new Error(`untyped error: ${String(err)}`);
    return `error ${err.code}`;
  }
}

async function theirs(p: Promise<{ serialize(): Uint8Array }>): Promise<string> {
  try {
    return hex((await p).serialize());
  } catch {
    return 'error';
  }
}

/** libsignal's outcome for each flipped bit of a sample, computed once for every provider's sweep. */
const libOutcomes = new Map<string, string[]>();
async function libOutcome(version: 'v1' | 'v2', bit: number): Promise<string> {
  let list = libOutcomes.get(version);
  if (list === undefined) {
    list = [];
    const original = samples[version];
    for (let b = 0; b < original.length * 8; b++)
      list.push(await theirs(L.sealedSenderDecryptToUsmc(ab(flip(original, b)), w.bob.p.stores.identity)));
    libOutcomes.set(version, list);
  }
  return list[bit] as string;
}

// Every bit on the node provider; on the others (slower, and differing only in the primitives, not in
// parsing or checks) every 7th bit plus the whole first 96 bytes (version, keys, C, AT).
for (const { label, provider } of allProviders) {
  describe(`bit-flip sweep (${label})`, () => {
    for (const version of ['v1', 'v2'] as const) {
      it(`${version}: every flipped bit is refused with a typed error exactly when libsignal refuses it; nothing is consumed`, async () => {
        const original = samples[version];
        const accepted: number[] = [];
        for (let bit = 0; bit < original.length * 8; bit++) {
          if (label !== 'node' && bit >= 96 * 8 && bit % 7 !== 0) continue;
          const tampered = flip(original, bit);
          const copy = tampered.slice();
          const a = await ours(unseal(tampered, w.bob.ours, { provider }));
          expect(tampered).toEqual(copy); // the caller's bytes are never written
          expect(a.startsWith('error') ? 'error' : a, `bit ${bit}`).toBe(await libOutcome(version, bit));
          if (!a.startsWith('error')) accepted.push(bit);
        }
        // Only the version byte's bits that select nothing: its low nibble, and for v1 the 0x10 bit
        // (a high nibble of 0 or 1 both mean v1).
        expect(accepted).toEqual(version === 'v1' ? [0, 1, 2, 3, 4] : [0, 1, 2, 3]);
        expect(await ours(unseal(original, w.bob.ours, { provider }))).toBe(hex(samples.usmc));
      });
    }
  });
}

describe('after the sweeps', () => {
  it('libsignal’s full receive path still opens a fresh message to bob (no session was touched)', async () => {
    const inner = await libEncrypt(w.alice, w.bob, 'still fine');
    const usmc = L.UnidentifiedSenderMessageContent.new(inner, w.aliceLibCert, ContentHint.Default, null);
    const sealed = await L.sealedSenderEncrypt(usmc, w.bob.addr, w.alice.p.stores.identity);
    const before = w.bob.p.sessionBytes(w.alice.p.address);
    for (let bit = 8; bit < sealed.length * 8; bit += 13) {
      expect(await ours(unseal(flip(sealed, bit), w.bob.ours, { provider: nodeProvider }))).toMatch(
        /^error /,
      );
      await expect(libOpen(w.bob, flip(sealed, bit))).rejects.toThrow();
    }
    expect(w.bob.p.sessionBytes(w.alice.p.address)).toEqual(before);
    expect(new TextDecoder().decode((await libOpen(w.bob, sealed)).message())).toBe('still fine');
  });
});

describe('SentMessage (server side)', () => {
  it('every flipped bit: our parse accepts exactly what libsignal accepts and splits to the same bytes', () => {
    for (let bit = 0; bit < samples.sent.length * 8; bit++) {
      const tampered = flip(samples.sent, bit);
      expect(ourSplit(tampered), `bit ${bit}`).toEqual(libSplit(tampered));
    }
  });

  it('a legacy 0x22 SentMessage (raw ACI UUIDs) parses and splits as in libsignal, flips included', () => {
    // Re-encode the 0x23 sample with 16-byte UUIDs (all its recipients are ACIs).
    const m = SealedSenderMultiRecipientMessage.parse(samples.sent);
    const uuid = (id: string) => Uint8Array.from(Buffer.from(id.replace(/-/g, ''), 'hex'));
    const parts: number[] = [0x22, m.recipients().size + m.excludedRecipients().length];
    let shared: Uint8Array = new Uint8Array();
    for (const [id, r] of m.recipients()) {
      parts.push(...uuid(id));
      r.deviceIds.forEach((d, i) => {
        const word = (r.registrationIds[i] as number) | (i < r.deviceIds.length - 1 ? 0x8000 : 0);
        parts.push(d, word >> 8, word & 0xff);
      });
      const received = m.messageForRecipient(id);
      parts.push(...received.subarray(1, 49));
      shared = received.subarray(49);
    }
    for (const id of m.excludedRecipients()) parts.push(...uuid(id), 0);
    const legacy = new Uint8Array([...parts, ...shared]);
    const split = ourSplit(legacy);
    expect(split).toEqual(libSplit(legacy));
    expect(split).toEqual(ourSplit(samples.sent));
    for (let bit = 0; bit < 120 * 8; bit++)
      expect(ourSplit(flip(legacy, bit)), `bit ${bit}`).toEqual(libSplit(flip(legacy, bit)));
  });

  it('a SentMessage claiming 10^6 recipients is refused up front, like libsignal', () => {
    for (const version of [0x23, 0x22]) {
      const claim = new Uint8Array([version, ...encodeVarint(1_000_000), ...new Uint8Array(200)]);
      expect(ourSplit(claim)).toBe('error');
      expect(libSplit(claim)).toBe('error');
    }
  });
});

/** Valid bytes, damaged: truncated, bit-flipped, bytes inserted, a length made huge; or random bytes. */
function damaged(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.nat(valid.length).map((n) => valid.slice(0, n)),
    fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const b = valid.slice();
      b[i] = (b[i] as number) ^ x;
      return b;
    }),
    fc
      .tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 }))
      .map(([i, ins]) => new Uint8Array([...valid.subarray(0, i), ...ins, ...valid.subarray(i)])),
    fc
      .nat(valid.length - 1)
      .map((i) => new Uint8Array([...valid.subarray(0, i), 0xff, 0xff, 0xff, 0x0f, ...valid.subarray(i)])),
    fc.uint8Array({ maxLength: 300 }),
  );
}

function agree(
  decodeOurs: (b: Uint8Array) => { serialize(): Uint8Array },
  decodeTheirs: (b: Uint8Array) => unknown,
) {
  return (b: Uint8Array) => {
    let a = 'ok';
    try {
      decodeOurs(b);
    } catch (err) {
      if (!E2eeError.is(err)) return false;
      a = 'error';
    }
    let t = 'ok';
    try {
      decodeTheirs(ab(b));
    } catch {
      t = 'error';
    }
    return a === t;
  };
}

describe('garbage: ours accepts exactly what libsignal accepts, else a typed error', () => {
  it('SenderCertificate.deserialize', () => {
    const valid = new Uint8Array(w.aliceLibCert.serialize());
    fc.assert(
      fc.property(
        damaged(valid),
        agree(SenderCertificate.deserialize, (b) => L.SenderCertificate.deserialize(ab(b))),
      ),
      { numRuns: 1500 },
    );
  });
  it('ServerCertificate.deserialize', () => {
    const valid = new Uint8Array(w.libServerCert.serialize());
    fc.assert(
      fc.property(
        damaged(valid),
        agree(ServerCertificate.deserialize, (b) => L.ServerCertificate.deserialize(ab(b))),
      ),
      { numRuns: 1500 },
    );
  });
  it('UnidentifiedSenderMessageContent.deserialize', () => {
    fc.assert(
      fc.property(
        damaged(samples.usmc),
        agree(UnidentifiedSenderMessageContent.deserialize, (b) =>
          L.UnidentifiedSenderMessageContent.deserialize(ab(b)),
        ),
      ),
      { numRuns: 1500 },
    );
  });
  it('SealedSenderMultiRecipientMessage.parse', () => {
    fc.assert(
      fc.property(damaged(samples.sent), (b) => {
        expect(ourSplit(b)).toEqual(libSplit(b));
      }),
      { numRuns: 1500 },
    );
  });
  it('unseal (v1 and v2 envelopes)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(damaged(samples.v1), damaged(samples.v2)), async (b) => {
        const a = await ours(unseal(b, w.bob.ours, { provider: nodeProvider }));
        const t = await theirs(L.sealedSenderDecryptToUsmc(ab(b), w.bob.p.stores.identity));
        expect(a.startsWith('error') ? 'error' : a).toBe(t);
      }),
      { numRuns: 1500 },
    );
  });
  it('typed: the version errors name the version', async () => {
    const err = await unseal(new Uint8Array([0x31, 0]), w.bob.ours).catch((e: unknown) => e);
    expect(E2eeError.is(err, 'SEALED_SENDER_UNKNOWN_VERSION')).toBe(true);
    expect(utf8((err as Error).message)).toEqual(utf8('unknown sealed sender message version 3'));
  });
});
