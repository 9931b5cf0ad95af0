// An unknown key type byte (anything but 0x05, Curve25519) in a PreKey message's identity key or base
// key, or in a SignalMessage's ratchet key (inside a PreKey message or on its own): the same bytes go
// to libsignal-client 0.103.0 and to our SessionCipher holding the same keys, and the error kinds are
// compared. Both must refuse while reading the message — nothing stored — and the genuine message
// must decrypt afterwards.
import { nodeProvider } from '@e2ee-kit/core/node';
import { PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { LibsignalParty, libs, type RawWireMessage } from '../src/libsignal.js';
import { createTwins, libDecision, ourDecision, replaceKey } from './ratchet-twins.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const provider = nodeProvider;
// 0x08 is a Kyber-1024 key's type byte: a known type, but not a Curve25519 one.
const TYPE_BYTES = [0x00, 0x01, 0x04, 0x06, 0x08, 0x7f, 0x85, 0xff] as const;

const withType = (key: Uint8Array, type: number) => Uint8Array.of(type, ...key.subarray(1));

describe('unknown key type bytes: libsignal-client 0.103.0 vs ours', () => {
  it('identity key, base key, ratchet key: libsignal: bad key type (BadKeyType), ours: DecodeError INVALID_KEY', async () => {
    const twins = await createTwins(libs.lib103, provider, { name: crypto.randomUUID(), deviceId: 1 });
    const sender = LibsignalParty.create(libs.lib103, { name: crypto.randomUUID() });
    const from = sender.address;
    await sender.processBundle(twins.address, twins.bundle);
    const first = await sender.encrypt(twins.address, enc.encode('first'));
    const second = await sender.encrypt(twins.address, enc.encode('second'));
    const pre = PreKeySignalMessage.deserialize(first.body);
    const whisper: RawWireMessage = {
      type: 'whisper',
      body: PreKeySignalMessage.deserialize(second.body).message.serializedView.slice(),
    };
    const fields: [string, RawWireMessage, Uint8Array][] = [
      ['PreKey identity key', first, pre.identityKey.serialize()],
      ['PreKey base key', first, pre.baseKey.serialize()],
      ['PreKey inner ratchet key', first, pre.message.ratchetKey.serialize()],
      ['whisper ratchet key', whisper, SignalMessage.deserialize(whisper.body).ratchetKey.serialize()],
    ];

    const decisions = new Map<string, string>();
    for (const established of [false, true]) {
      if (established) {
        // A session, so that a whisper message has something to be tried on.
        expect(dec.decode(await twins.lib.decrypt(from, first))).toBe('first');
        expect(dec.decode((await twins.cipher(from).decrypt(first)).plaintext)).toBe('first');
      }
      for (const [field, m, key] of fields) {
        for (const type of TYPE_BYTES) {
          const what = `${field}, type 0x${type.toString(16).padStart(2, '0')}${established ? ', session' : ''}`;
          const bad: RawWireMessage = { type: m.type, body: replaceKey(m.body, key, withType(key, type)) };
          const libBefore = twins.libSnapshot(from);
          const ourBefore = twins.ourSnapshot();
          const lib = await libDecision(twins, from, bad);
          const ours = await ourDecision(twins, from, bad);
          expect(twins.libSnapshot(from), what).toBe(libBefore);
          expect(twins.ourSnapshot(), what).toBe(ourBefore);
          decisions.set(`${lib} | ${ours}`, what);
          expect(lib, what).toBe(`rejected:Generic: bad key type <0x${type.toString(16).padStart(2, '0')}>`);
          expect(ours, what).toBe('rejected:INVALID_KEY (DecodeError)');
        }
      }
    }
    console.log('[interop] unknown key type decisions:', [...decisions.keys()]);
    expect(dec.decode(await twins.lib.decrypt(from, whisper))).toBe('second');
    expect(dec.decode((await twins.cipher(from).decrypt(whisper)).plaintext)).toBe('second');
  });
});
