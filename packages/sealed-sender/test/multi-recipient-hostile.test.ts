// Hostile SentMessages for the server-side split, built by hand to the wire layout of spec §4.4
// (`0x23 ‖ varint count ‖ (ServiceId ‖ device records ‖ C ‖ AT | ServiceId ‖ 0x00)* ‖ E ‖ ciphertext`).
// libsignal's parser (SealedSenderV2SentMessage::parse) appends the devices of a repeated recipient
// without a limit; ours must agree (interop/test/sealed-sender-multi-recipient-hostile.test.ts checks
// the same bytes against libsignal) and answer only with its result or a DecodeError.
import { concatBytes, DecodeError, E2eeError, encodeVarint } from '@e2ee-kit/core';
import { SealedSenderMultiRecipientMessage } from '@e2ee-kit/sealed-sender';
import { describe, expect, it } from 'vitest';

const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const ACI_BYTES = Uint8Array.from([0, ...Buffer.from(ACI.replace(/-/g, ''), 'hex')]);

/** One recipient entry: ServiceId, `devices` records (device 1, registration id 0x1234), C ‖ AT. */
function entry(devices: number, keyMaterialByte: number): Uint8Array {
  const out = new Uint8Array(17 + 3 * devices + 48);
  out.set(ACI_BYTES, 0);
  for (let i = 0, o = 17; i < devices; i++, o += 3) {
    out[o] = 1;
    out[o + 1] = 0x12 | (i < devices - 1 ? 0x80 : 0);
    out[o + 2] = 0x34;
  }
  out.fill(keyMaterialByte, 17 + 3 * devices);
  return out;
}

function sentMessage(entries: Uint8Array[]): Uint8Array {
  const shared = new Uint8Array(32 + 16).fill(0xee); // E ‖ an (empty) GCM-SIV ciphertext
  return concatBytes(Uint8Array.of(0x23), encodeVarint(entries.length), ...entries, shared);
}

describe('SealedSenderMultiRecipientMessage.parse with a repeated recipient', () => {
  it('appends 200,000 devices of a repeated recipient as libsignal does (no stack overflow), keeping the first C ‖ AT', () => {
    // Was: `push(...devices)` passed every device as a call argument, so a repeat with ~130,000+
    // devices (≈ 400 kB, well inside the 4 MiB budget) threw a RangeError (call stack exceeded).
    const many = 200_000;
    const bytes = sentMessage([entry(1, 0xaa), entry(many, 0xbb)]);
    let parsed: SealedSenderMultiRecipientMessage | undefined;
    let error: unknown;
    try {
      parsed = SealedSenderMultiRecipientMessage.parse(bytes);
    } catch (err) {
      error = err;
    }
    expect(error === undefined || E2eeError.is(error), `untyped error: ${String(error)}`).toBe(true);
    expect(error).toBeUndefined();
    const devices = parsed?.recipients().get(ACI);
    expect(devices?.deviceIds.length).toBe(many + 1);
    expect(devices?.registrationIds.length).toBe(many + 1);
    expect(devices?.registrationIds.every((id) => id === 0x1234)).toBe(true);
    const received = parsed?.messageForRecipient(ACI) as Uint8Array;
    expect(received.subarray(1, 49)).toEqual(new Uint8Array(48).fill(0xaa));
  });

  it('a repeat that is truncated inside its device records is a DecodeError', () => {
    const bytes = sentMessage([entry(1, 0xaa), entry(200_000, 0xbb)]);
    // Cut inside the second entry's records: what remains cannot hold its C ‖ AT and E.
    expect(() => SealedSenderMultiRecipientMessage.parse(bytes.subarray(0, 300_000))).toThrow(DecodeError);
  });
});

describe('SealedSenderMultiRecipientMessage.parse with an impossible recipient count', () => {
  // The first entry's ServiceId kind is 2 (unknown): reading that entry would fail with "unknown
  // ServiceId kind", so "truncated" shows the count was refused before the loop read anything.
  const badFirstEntry = [2, ...new Array<number>(16).fill(0), 0];
  const body = (n: number) => new Array<number>(n).fill(0);

  it('2^32 − 1 recipients in a few hundred bytes: refused up front; 2^32 and an 11-byte varint: out of range', () => {
    const cases: Array<[number[], RegExp]> = [
      [[0x23, ...encodeVarint(0xffffffff), ...badFirstEntry, ...body(300)], /truncated/],
      [[0x22, ...encodeVarint(0xffffffff), ...badFirstEntry, ...body(300)], /truncated/],
      [[0x23, ...encodeVarint(0x1_0000_0000), ...badFirstEntry, ...body(300)], /out of range/],
      [[0x23, ...new Array<number>(10).fill(0x80), 0x01, ...body(300)], /too long/],
    ];
    for (const [bytes, message] of cases) {
      let err: unknown;
      try {
        SealedSenderMultiRecipientMessage.parse(Uint8Array.from(bytes));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as Error).message).toMatch(message);
    }
  });

  it('the up-front bound is exact: n excluded entries and E fit, one entry more does not', () => {
    const excluded = (i: number) => [0, ...new Array<number>(15).fill(0), i, 0];
    const entries = [1, 2, 3].flatMap(excluded);
    const exact = Uint8Array.from([0x23, 3, ...entries, ...body(32)]);
    expect(SealedSenderMultiRecipientMessage.parse(exact).excludedRecipients()).toHaveLength(3);
    const oneMore = Uint8Array.from([0x23, 4, ...entries, ...body(32)]);
    expect(() => SealedSenderMultiRecipientMessage.parse(oneMore)).toThrow(DecodeError);
  });
});
