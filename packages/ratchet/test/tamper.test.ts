// Single-bit flips of real messages: every flip is rejected and changes nothing, except the bits that
// libsignal itself does not authenticate (spec §4.6); a message accepted after such a flip must give the
// original plaintext and leave the stored identity unchanged.
import { type CryptoProvider, E2eeError, platformProvider, toHex } from '@e2ee-kit/core';
import type { EncryptedMessage, SessionCipher } from '@e2ee-kit/ratchet';
import type { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makePair, type Pair, prng, roundTrip, utf8 } from './helpers.js';

interface Field {
  field: number;
  /** Byte offsets in the whole message (version byte included). */
  tagStart: number;
  valueStart: number;
  end: number;
}

/** Top-level protobuf fields of a PreKeySignalMessage (after its version byte), with their positions. */
function fieldsOf(body: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 1;
  const varint = () => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = body[pos++] as number;
      v += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return v;
      mul *= 128;
    }
  };
  while (pos < body.length) {
    const tagStart = pos;
    const key = varint();
    const valueStart = pos;
    if ((key & 7) === 0) varint();
    else if ((key & 7) === 2) {
      const len = varint();
      pos += len;
    } else throw new Error('unexpected wire type in a real message');
    out.push({ field: Math.floor(key / 8), tagStart, valueStart, end: pos });
  }
  return out;
}

function sameRecords(a: Map<string, Uint8Array>, b: Map<string, Uint8Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length) return false;
    for (let i = 0; i < v.length; i++) if (v[i] !== w[i]) return false;
  }
  return true;
}

interface Sample {
  message: EncryptedMessage;
  text: string;
  receiver: SessionCipher;
  store: InMemoryProtocolStore;
  peer: Pair['alice'];
  /** Bits libsignal tolerates for this message (byte index → true). */
  tolerated: (byteIndex: number) => boolean;
}

/** Flips `bits` (bit positions in the message) one at a time against the same stored state. */
async function flipBits(s: Sample, bits: number[]): Promise<{ rejected: number; accepted: number }> {
  const pristine = s.store.snapshot();
  // After an accepted message the stored identity is the sender's real one (a first message stores it).
  const senderIdentity = toHex((await s.peer.store.getIdentityKeyPair()).publicKey.serialize());
  let rejected = 0;
  let accepted = 0;
  for (const bit of bits) {
    const body = s.message.body.slice();
    const byte = bit >> 3;
    body[byte] = (body[byte] as number) ^ (1 << (bit & 7));
    let plaintext: Uint8Array | undefined;
    let error: unknown;
    try {
      plaintext = (await s.receiver.decrypt({ type: s.message.type, body })).plaintext;
    } catch (err) {
      error = err;
    }
    if (plaintext === undefined) {
      // Only our typed errors, never a crash of another kind.
      expect(E2eeError.is(error), `flip of bit ${bit}: ${String(error)}`).toBe(true);
      expect(sameRecords(s.store.snapshot(), pristine), `flip of bit ${bit} changed the store`).toBe(true);
      rejected++;
      continue;
    }
    expect(s.tolerated(byte), `flip of bit ${bit} (byte ${byte}) was accepted`).toBe(true);
    expect(fromUtf8(plaintext)).toBe(s.text);
    expect(toHex((await s.store.getIdentity(s.peer.address))?.serialize() ?? new Uint8Array())).toBe(
      senderIdentity,
    );
    accepted++;
    s.store.restore(pristine);
  }
  expect(rejected + accepted).toBe(bits.length);
  return { rejected, accepted };
}

const allBits = (m: EncryptedMessage) => Array.from({ length: m.body.length * 8 }, (_, i) => i);

/** PreKey message bits: all outside the Kyber ciphertext, plus `kyberSample` random bits inside it. */
function preKeyBits(m: EncryptedMessage, kyberSample: number): number[] {
  const ct = fieldsOf(m.body).find((f) => f.field === 8);
  if (!ct) return allBits(m);
  const rnd = prng(99);
  const bits: number[] = [];
  for (let i = 0; i < m.body.length * 8; i++) if (i < ct.valueStart * 8 + 24 || i >= ct.end * 8) bits.push(i);
  for (let i = 0; i < kyberSample; i++)
    bits.push(ct.valueStart * 8 + 24 + rnd((ct.end - ct.valueStart - 3) * 8));
  return bits;
}

/** Spec §4.6: in any PreKey message, the low nibble of the version byte and the registration id. */
function preKeyTolerance(m: EncryptedMessage, repeated: boolean): (byte: number) => boolean {
  const fields = fieldsOf(m.body);
  const lenient = new Set(repeated ? [5, 1, 6, 7, 8] : [5]);
  return (byte) =>
    byte === 0 || fields.some((f) => lenient.has(f.field) && byte >= f.tagStart && byte < f.end);
}

const whisperTolerance = () => false;

async function v4Samples(provider: CryptoProvider) {
  const p = await makePair(provider);
  await p.a.initiate(await p.bob.bundle());
  const first = await p.a.encrypt(utf8('prekey v4'));
  return { p, first };
}

describe('single-bit flips are rejected and change nothing', () => {
  const provider = platformProvider;

  it('first PreKey message (v4): every bit outside the Kyber ciphertext, 256 inside', async () => {
    const { p, first } = await v4Samples(provider);
    // The version byte's high nibble must be rejected; only its low nibble is tolerated (checked per bit).
    const r = await flipBits(
      {
        message: first,
        text: 'prekey v4',
        receiver: p.b,
        store: p.bob.store,
        peer: p.alice,
        tolerated: preKeyTolerance(first, false),
      },
      preKeyBits(first, 256),
    );
    // libsignal accepts flips of the version byte's low nibble, and so do we.
    expect(r.accepted).toBeGreaterThanOrEqual(4);
    // Unflipped, it still decrypts.
    expect(fromUtf8((await p.b.decrypt(first)).plaintext)).toBe('prekey v4');
  });

  it('repeated PreKey message (v4): ids and Kyber ciphertext are not re-checked, everything else is', async () => {
    const { p, first } = await v4Samples(provider);
    const second = await p.a.encrypt(utf8('second prekey'));
    await p.b.decrypt(first);
    await flipBits(
      {
        message: second,
        text: 'second prekey',
        receiver: p.b,
        store: p.bob.store,
        peer: p.alice,
        tolerated: preKeyTolerance(second, true),
      },
      preKeyBits(second, 64),
    );
  });

  it('whisper messages (v4): with a DH step and within a chain, every bit', async () => {
    const { p, first } = await v4Samples(provider);
    await p.b.decrypt(first);
    const reply = await p.b.encrypt(utf8('reply with DH step'));
    const r1 = await flipBits(
      {
        message: reply,
        text: 'reply with DH step',
        receiver: p.a,
        store: p.alice.store,
        peer: p.bob,
        tolerated: whisperTolerance,
      },
      allBits(reply),
    );
    expect(r1.accepted).toBe(0);
    await p.a.decrypt(reply);
    await roundTrip(p.a, p.b, 'x');
    const inChain = await p.a.encrypt(utf8('same chain'));
    const r2 = await flipBits(
      {
        message: inChain,
        text: 'same chain',
        receiver: p.b,
        store: p.bob.store,
        peer: p.alice,
        tolerated: whisperTolerance,
      },
      allBits(inChain),
    );
    expect(r2.accepted).toBe(0);
  });

  it('X3DH (v3): PreKey and whisper messages, every bit', async () => {
    const p = await makePair(provider, { x3dh: true });
    await p.a.initiate(await p.bob.bundle({ kyberPreKey: false }), { protocol: 'x3dh' });
    const first = await p.a.encrypt(utf8('prekey v3'));
    await flipBits(
      {
        message: first,
        text: 'prekey v3',
        receiver: p.b,
        store: p.bob.store,
        peer: p.alice,
        tolerated: preKeyTolerance(first, false),
      },
      allBits(first),
    );
    await p.b.decrypt(first);
    const reply = await p.b.encrypt(utf8('whisper v3'));
    const r = await flipBits(
      {
        message: reply,
        text: 'whisper v3',
        receiver: p.a,
        store: p.alice.store,
        peer: p.bob,
        tolerated: whisperTolerance,
      },
      allBits(reply),
    );
    expect(r.accepted).toBe(0);
  });
});
