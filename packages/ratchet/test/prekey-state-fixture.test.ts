// A frozen PreKeyStateRecord of format v1 with every field, 8–11 included: those were added to v1
// after format-v1.json and format-v2.json were frozen, so no fixture held them. The bytes were
// encoded by hand from the layout in prekey-state-record.ts (protobuf: tag 0x05, version 1, fields
// 1–11, retired keys as {1: id, 2: fixed64 ms}), not by this code. Never regenerate: a reader that
// stops accepting them, or a writer that encodes these fields differently, fails here.
import { fromHex } from '@e2ee-kit/core';
import { PreKeyStateRecord } from '@e2ee-kit/ratchet';
import { expect, it } from 'vitest';

const FROZEN_V1 =
  '050108e807101418ac0220132a0b08111100a8da769b0100002a0b081211006027819b01000030ab023a0c08aa02' +
  '11006027819b010000401248aa0250840758fa01';

it('a v1 pre-key state with the later fields (uploaded ids) still loads, and re-encodes to the same bytes', () => {
  const r = PreKeyStateRecord.deserialize(fromHex(FROZEN_V1));
  expect({ ...r }).toEqual({
    nextPreKeyId: 1000,
    nextSignedPreKeyId: 20,
    nextKyberPreKeyId: 300,
    currentSignedPreKeyId: 19,
    retiredSignedPreKeys: [
      { id: 17, retiredAt: Date.UTC(2026, 0, 1) },
      { id: 18, retiredAt: Date.UTC(2026, 0, 3) },
    ],
    currentLastResortKyberPreKeyId: 299,
    retiredLastResortKyberPreKeys: [{ id: 298, retiredAt: Date.UTC(2026, 0, 3) }],
    uploadedSignedPreKeyId: 18,
    uploadedLastResortKyberPreKeyId: 298,
    uploadedNextPreKeyId: 900,
    uploadedNextKyberPreKeyId: 250,
  });
  expect(r.serialize()).toEqual(fromHex(FROZEN_V1));
});

it('the same record with trailing garbage, a bad version or a cut is a DecodeError', () => {
  const bytes = fromHex(FROZEN_V1);
  const bad = [
    bytes.subarray(0, bytes.length - 1), // cut inside the last varint's field
    Uint8Array.of(0x05, 0x02, ...bytes.subarray(2)), // a format version this reader does not know
    Uint8Array.of(...bytes, 0x2a, 0x05, 0x08), // a retired entry whose length runs past the end
  ];
  for (const b of bad)
    expect(() => PreKeyStateRecord.deserialize(b)).toThrow(expect.objectContaining({ code: 'DECODE' }));
});
