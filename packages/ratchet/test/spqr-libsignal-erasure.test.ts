// Live check of the erasure code's parity chunks against libsignal-client 0.103.0 (the capture file
// holds none): two libsignal parties run the A,A,A,B burst pattern, which makes A's ek encoder run past
// its 36 systematic chunks (spec §1.3). Every chunk libsignal sent — systematic and parity — must equal
// our encoder's chunk of the object our decoder rebuilt, and every message must parse and re-serialize
// byte-identically with our codec.
import { LibsignalParty, libs, type RawWireMessage } from '@e2ee-kit/interop/libsignal';
import { describe, expect, it } from 'vitest';
import { type Chunk, ChunkDecoder, ChunkEncoder } from '../src/spqr/erasure.js';
import { type PayloadType, parseSpqrMessage, serializeSpqrMessage } from '../src/spqr/message.js';
import { PreKeySignalMessage, SignalMessage } from '../src/wire.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const pqOf = (m: RawWireMessage) =>
  m.type === 'prekey'
    ? PreKeySignalMessage.deserialize(m.body).message.pqRatchet
    : SignalMessage.deserialize(m.body).pqRatchet;

/** Object length by payload type (hdr ‖ mac, ek, ct1, ct2 ‖ mac); Ek and EkCt1Ack share one encoder. */
const LENGTH: Record<number, number> = { 1: 96, 2: 1152, 3: 1152, 5: 960, 6: 160 };
const GROUP: Record<number, number> = { 1: 1, 2: 2, 3: 2, 5: 5, 6: 6 };

describe('SPQR erasure code vs libsignal-client 0.103.0 (live)', () => {
  it('parity chunks of the A,A,A,B pattern re-encode byte-identically', async () => {
    const lib = libs.lib103;
    const a = LibsignalParty.create(lib);
    const b = LibsignalParty.create(lib);
    await a.processBundle(b.address, await b.createBundle());
    const objects = new Map<string, Chunk[]>();
    const enc = new TextEncoder();
    for (let round = 0; round < 60; round++) {
      for (const [from, to, n] of [[a, b, 3] as const, [b, a, 1] as const]) {
        for (let k = 0; k < n; k++) {
          const m = await from.encrypt(to.address, enc.encode('x'));
          await to.decrypt(from.address, m);
          const pq = pqOf(m);
          const msg = parseSpqrMessage(pq);
          expect(hex(serializeSpqrMessage(msg))).toBe(hex(pq));
          if (!msg.chunk) continue;
          const key = `${from === a ? 'A' : 'B'}/${msg.epoch}/${GROUP[msg.type]}`;
          const list = objects.get(key) ?? [];
          list.push(msg.chunk);
          objects.set(key, list);
        }
      }
    }
    let parity = 0;
    let checked = 0;
    for (const [key, chunks] of objects) {
      const type = Number(key.split('/')[2]) as PayloadType;
      const length = LENGTH[type] as number;
      const k = length / 32;
      let dec = new ChunkDecoder(length);
      for (const c of chunks) dec = dec.withChunk(c);
      const object = dec.decoded();
      if (!object) continue; // the epoch was still running when the test stopped
      const ours = new ChunkEncoder(object);
      for (const c of chunks) {
        expect(hex(ours.chunkAt(c.index).data), `${key} chunk ${c.index}`).toBe(hex(c.data));
        if (c.index >= k) parity++;
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
    expect(parity).toBeGreaterThan(20);
  }, 120_000);
});
