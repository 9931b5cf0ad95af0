// A SenderKeyRecord at every documented cap at once (README, Limits): 5 states × 2,000 skipped keys
// with the longest iterations, 512 retired-chain markers with the longest chain ids and iterations,
// and — on a sender's own record kept by a store without key-holder methods — a key-holder list of
// MAX_RECORD_HOLDERS_BYTES. It stays under MAX_SENDER_KEY_RECORD_BYTES, reads back byte for byte,
// and still decrypts. The key-holder cap is per record: a record holding more than that in all its
// states' lists is refused when built and when read (else it could be written and never read back).
import { type Address, DecodeError, ProtoReader, ProtoWriter, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  GroupCipher,
  MAX_MESSAGE_KEYS,
  MAX_RECORD_HOLDERS_BYTES,
  MAX_RETIRED_CHAINS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  SENDER_KEY_RECORD_TAG,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

const D = '0a11ce00-0000-4000-8000-0000000ca950';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const TOP = 0xffff_e000; // iterations needing a 5-byte varint
type State = SenderKeyRecord['states'][number];

/** A sender whose chain sits at `TOP`, and the receiver state its SKDM gives (with full skipped keys). */
async function chainAtTop(chainId: number) {
  const store = new InMemorySenderKeyStore();
  const sender = new GroupCipher(store, { provider: nodeProvider });
  await sender.createDistributionMessage(alice, D);
  const own = ((await store.loadSenderKey(alice, D)) as SenderKeyRecord).states[0]!;
  const top: State = { ...own, chainId, iteration: TOP };
  await store.storeSenderKey(alice, D, SenderKeyRecord.fromStates([top]));
  const skipped = Array.from({ length: MAX_MESSAGE_KEYS }, (_, i) => ({
    iteration: TOP - MAX_MESSAGE_KEYS + i,
    seed: new Uint8Array(32).fill(i & 0xff),
  }));
  const receiving: State = { ...top, signingPrivate: undefined, edSeed: undefined, edSignBit: 0, skipped };
  return { sender, own: top, receiving };
}

/** `record` with `count` retired-chain markers (chain ids and iterations of 5-byte varints). */
function withMarkers(record: SenderKeyRecord, filler: State, count: number): SenderKeyRecord {
  let r = record;
  for (let i = 0; i < count; i++) {
    // A state added, then dropped: the record marks it retired.
    const dropped: State = { ...filler, chainId: 0xfffe_0000 + i, iteration: 0xffff_0000 + i, skipped: [] };
    r = r.withStates([dropped, ...r.states.slice(0, MAX_SENDER_KEY_STATES - 1)]).withStates(r.states);
  }
  return r;
}

describe('a record at every cap at once', () => {
  it('a receiver’s: 5 × 2,000 keys and 512 markers, under the byte cap, read back exactly, still decrypting', async () => {
    const chains = await Promise.all(
      Array.from({ length: MAX_SENDER_KEY_STATES }, (_, i) => chainAtTop(0x7fff_fff0 + i)),
    );
    const base = SenderKeyRecord.fromStates(chains.map((c) => c.receiving));
    const full = withMarkers(base, chains[0]!.receiving, MAX_RETIRED_CHAINS);
    expect(full.retiredChains).toHaveLength(MAX_RETIRED_CHAINS);
    const bytes = full.serialize();
    expect(bytes.length).toBeLessThanOrEqual(MAX_SENDER_KEY_RECORD_BYTES);
    const again = SenderKeyRecord.deserialize(bytes);
    expect(again.serialize()).toEqual(bytes);
    expect(again.retiredChains).toEqual(full.retiredChains);

    const store = new InMemorySenderKeyStore();
    store.setRawRecord(alice, D, bytes);
    const receiver = new GroupCipher(store, { provider: nodeProvider });
    const m = await chains[0]!.sender.encrypt(alice, D, utf8('at the caps'));
    expect(new TextDecoder().decode((await receiver.decrypt(alice, m)).plaintext)).toBe('at the caps');
    const after = (await store.loadSenderKey(alice, D)) as SenderKeyRecord;
    expect(after.retiredChains).toHaveLength(MAX_RETIRED_CHAINS);
    expect(after.states[0]?.iteration).toBe(TOP + 1);
  });

  it('an own record kept with its key-holder list: the list at its cap plus 4 full chains and 512 markers', async () => {
    const chains = await Promise.all(
      Array.from({ length: MAX_SENDER_KEY_STATES }, (_, i) => chainAtTop(i + 1)),
    );
    const own: State = { ...chains[0]!.own, holders: new Uint8Array(MAX_RECORD_HOLDERS_BYTES) };
    const base = SenderKeyRecord.fromStates([own, ...chains.slice(1).map((c) => c.receiving)]);
    const full = withMarkers(base, chains[1]!.receiving, MAX_RETIRED_CHAINS);
    const bytes = full.serialize();
    expect(bytes.length).toBeLessThanOrEqual(MAX_SENDER_KEY_RECORD_BYTES);
    expect(SenderKeyRecord.deserialize(bytes).serialize()).toEqual(bytes);
  });

  it('key-holder lists over the cap in all: refused when built and when read', async () => {
    const [a, b] = await Promise.all([chainAtTop(1), chainAtTop(2)]);
    const half = MAX_RECORD_HOLDERS_BYTES / 2;
    const at = SenderKeyRecord.fromStates([
      { ...a.own, holders: new Uint8Array(half) },
      { ...b.own, holders: new Uint8Array(half) },
    ]);
    expect(SenderKeyRecord.deserialize(at.serialize()).size).toBe(2);
    const over = [
      { ...a.own, holders: new Uint8Array(half + 1) },
      { ...b.own, holders: new Uint8Array(half) },
    ];
    expect(() => SenderKeyRecord.fromStates(over)).toThrow(RangeError);
    expect(() => at.withStates(over)).toThrow(RangeError);
    // The same bytes written by hand (one more byte in the first list): refused on read.
    const r = new ProtoReader(at.serialize().subarray(SENDER_KEY_RECORD_TAG.length + 1));
    const states: Uint8Array[] = [];
    for (let h = r.next(); h; h = r.next()) states.push(r.bytes());
    const grown = new ProtoWriter().bytes(8, new Uint8Array(half + 1)).finish();
    const first = new Uint8Array([...(states[0] as Uint8Array), ...grown]); // field 8 again: last wins
    const body = new ProtoWriter()
      .bytes(1, first)
      .bytes(1, states[1] as Uint8Array)
      .finish();
    const bytes = new Uint8Array([...SENDER_KEY_RECORD_TAG, 1, ...body]);
    expect(() => SenderKeyRecord.deserialize(bytes)).toThrow(DecodeError);
  });
});
