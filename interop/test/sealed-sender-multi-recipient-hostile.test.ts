// Hostile SentMessages built to cost the server's split the most, against libsignal-client 0.103.0's
// parser: our SealedSenderMultiRecipientMessage must accept exactly what libsignal accepts, list the
// same devices and split to the same bytes, and refuse the rest with a DecodeError (never another error).
import { encodeVarint } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { ourSplit as ours, libSplit as theirs } from './sealed-sender-parties.js';

const ACI = 'e4e1b4a2-5b0c-4c3e-9a55-0b6f3f1f2d10';
const PNI = `PNI:${ACI}`;

/** Bytes of a SentMessage `0x23 ‖ count ‖ entries ‖ E ‖ tag`, each entry given as its byte list. */
function sent(entries: number[][]): Uint8Array {
  const head = [0x23, ...encodeVarint(entries.length)];
  const tail = new Array<number>(48).fill(7);
  const total = head.length + entries.reduce((n, e) => n + e.length, 0) + tail.length;
  const out = new Uint8Array(total);
  let o = 0;
  for (const part of [head, ...entries, tail]) {
    out.set(part, o);
    o += part.length;
  }
  return out;
}

/** A ServiceId's 17 fixed-width bytes (kind 0 ACI, 1 PNI). */
function serviceId(id: string): number[] {
  const pni = id.startsWith('PNI:');
  return [pni ? 1 : 0, ...Buffer.from(id.replace('PNI:', '').replace(/-/g, ''), 'hex')];
}

/** A recipient entry with `count` records of device `device`, registration id 77, then C ‖ AT = `fill`. */
function recipient(id: string, count: number, fill: number, device = 2): number[] {
  const records: number[] = [];
  for (let i = 0; i < count; i++) records.push(device, (i + 1 < count ? 0x80 : 0) | 0, 77);
  return [...serviceId(id), ...records, ...new Array<number>(48).fill(fill)];
}

describe('hostile SentMessages: our split agrees with libsignal’s', () => {
  it('a recipient repeated with 200,000 more devices is accepted, its devices appended, as in libsignal', () => {
    const bytes = sent([recipient(ACI, 1, 1), recipient(ACI, 200_000, 9)]);
    const split = theirs(bytes) as { recipients: Record<string, { deviceIds: number[] }> };
    expect(split.recipients[ACI]?.deviceIds.length).toBe(200_001);
    expect(ours(bytes)).toEqual(split);
  });

  it('repeats, exclusions and truncations: accepted and refused alike', () => {
    const excluded = (id: string) => [...serviceId(id), 0];
    const cases: number[][][] = [
      [recipient(ACI, 2, 1), recipient(PNI, 1, 2), recipient(ACI, 3, 3)], // ACI twice: devices appended
      [recipient(ACI, 1, 1), excluded(ACI)], // listed, then excluded
      [excluded(ACI), recipient(ACI, 1, 1)], // excluded, then listed
      [excluded(ACI), excluded(ACI)], // excluded twice
      [excluded(ACI), excluded(PNI)],
      [recipient(ACI, 1, 1, 0x80)], // device id 128
      [recipient(ACI, 1, 1, 127)],
      [[...serviceId(ACI), 1, 0x80, 1, 0]], // a device record, then the 0 "excluded" marker
    ];
    for (const [i, entries] of cases.entries()) {
      const bytes = sent(entries);
      expect(ours(bytes), `case ${i}`).toEqual(theirs(bytes));
      for (const cut of [bytes.length - 1, bytes.length - 48, bytes.length - 49, 20])
        expect(ours(bytes.subarray(0, cut)), `case ${i} cut at ${cut}`).toEqual(
          theirs(bytes.subarray(0, cut)),
        );
    }
  });

  it('a padded recipient count is read as libsignal reads it: only its canonical length is skipped', () => {
    // `0x81 0x00` is 1 in two bytes; prost skips one, so the 0x00 is also the ServiceId's kind byte.
    const entry = recipient(ACI, 1, 5);
    expect(entry[0]).toBe(0);
    const bytes = Uint8Array.from([0x23, 0x81, ...entry, ...new Array<number>(48).fill(7)]);
    const split = theirs(bytes);
    expect(split).not.toBe('error');
    expect(ours(bytes)).toEqual(split);
    // `0x81 0x80 0x00` is 1 in three bytes: one is skipped, and 0x80 is no ServiceId kind.
    const three = Uint8Array.from([0x23, 0x81, 0x80, ...entry, ...new Array<number>(48).fill(7)]);
    expect(theirs(three)).toBe('error');
    expect(ours(three)).toBe('error');
  });
});
