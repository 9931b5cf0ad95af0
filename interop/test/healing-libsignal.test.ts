// Retry receipts live against @signalapp/libsignal-client 0.103.0 (issue 14, point 1): for real
// whisper, prekey and sender-key messages (theirs and ours), libsignal's DecryptionErrorMessage and
// PlaintextContent bytes equal ours, we parse theirs and they parse ours (deserialize,
// extractFromSerializedBody, PlaintextContent.deserialize/from), a failed decrypt on either side
// yields a receipt naming the sender ratchet key of the failed message, and a differential garbage run
// shows we never accept what libsignal refuses (or read it differently).
import { toHex, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  createRetryRequest,
  currentRatchetKey,
  DecryptionErrorMessage,
  FailedMessageType,
  isRetryableDecryptError,
  PlaintextContent,
  planRetryResponse,
  ResendCache,
  RetryPolicy,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import { InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { lib103, libs, type RawWireMessage } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';

type LibDem = ReturnType<typeof lib103.DecryptionErrorMessage.deserialize>;
type LibAddress = ReturnType<typeof lib103.ProtocolAddress.new>;
type LibSenderKeyRecord = ReturnType<typeof lib103.SenderKeyRecord.deserialize>;

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
const typeNumber = (m: RawWireMessage): 2 | 3 =>
  m.type === 'prekey' ? FailedMessageType.PreKey : FailedMessageType.Whisper;

interface Sample {
  readonly label: string;
  readonly type: FailedMessageType;
  readonly bytes: Uint8Array;
}

/** libsignal's view of one of its DEMs (or of one of ours that it parsed). */
function libFields(d: LibDem) {
  return { timestamp: d.timestamp(), deviceId: d.deviceId(), ratchetKey: d.ratchetKey()?.serialize() };
}
function ourFields(d: DecryptionErrorMessage) {
  return { timestamp: d.timestamp, deviceId: d.deviceId, ratchetKey: d.ratchetKey?.serialize() };
}
const same = (x: ReturnType<typeof libFields>, y: ReturnType<typeof ourFields>) => {
  expect(x.timestamp).toBe(y.timestamp);
  expect(x.deviceId).toBe(y.deviceId);
  expect(x.ratchetKey && toHex(x.ratchetKey)).toBe(y.ratchetKey && toHex(y.ratchetKey));
};

class LibSenderKeyStore extends lib103.SenderKeyStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSenderKey(a: LibAddress, d: string, r: LibSenderKeyRecord): Promise<void> {
    this.map.set(`${a.name()}.${a.deviceId()}/${d}`, r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibSenderKeyRecord | null> {
    const b = this.map.get(`${a.name()}.${a.deviceId()}/${d}`);
    return b === undefined ? null : lib103.SenderKeyRecord.deserialize(b);
  }
}

const samples: Sample[] = [];

beforeAll(async () => {
  const lib = libs.lib103;
  const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', deviceId: 3 });
  const theirs = libEndpoint(lib, { name: crypto.randomUUID(), deviceId: 4 });
  // their prekey message, our reply (whisper), their whisper; then a fresh pair the other way round
  await theirs.processBundle(ours.address, await ours.createBundle());
  const send = async (from: typeof ours | typeof theirs, to: typeof ours | typeof theirs, label: string) => {
    const m = await from.encrypt(to.address, utf8(label));
    await to.decrypt(from.address, m);
    samples.push({ label, type: typeNumber(m), bytes: m.body });
  };
  await send(theirs, ours, 'libsignal prekey');
  await send(ours, theirs, 'our whisper');
  await send(theirs, ours, 'libsignal whisper');
  const ours2 = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node' });
  const theirs2 = libEndpoint(lib, { name: crypto.randomUUID(), deviceId: 2 });
  await ours2.processBundle(theirs2.address, await theirs2.createBundle());
  await send(ours2, theirs2, 'our prekey');

  // sender-key messages: libsignal's groupEncrypt and our GroupCipher
  const d = crypto.randomUUID();
  const libStore = new LibSenderKeyStore();
  const libAddr = lib103.ProtocolAddress.new(crypto.randomUUID(), 5);
  await lib103.SenderKeyDistributionMessage.create(libAddr, d, libStore);
  const libGroup = await lib103.groupEncrypt(libAddr, d, libStore, ab(utf8('group')));
  samples.push({
    label: 'libsignal sender key',
    type: FailedMessageType.SenderKey,
    bytes: libGroup.serialize(),
  });
  const group = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
  const me = { name: crypto.randomUUID(), deviceId: 1 };
  await group.createDistributionMessage(me, d);
  samples.push({
    label: 'our sender key',
    type: FailedMessageType.SenderKey,
    bytes: await group.encrypt(me, d, utf8('group')),
  });
});

describe('libsignal-client 0.103.0: DecryptionErrorMessage and PlaintextContent', () => {
  it('the samples cover whisper, prekey and sender-key messages from both sides', () => {
    expect(samples.map((s) => `${s.label}:${s.type}`)).toEqual([
      'libsignal prekey:3',
      'our whisper:2',
      'libsignal whisper:2',
      'our prekey:3',
      'libsignal sender key:7',
      'our sender key:7',
    ]);
  });

  it('forOriginal: the same bytes on both sides, each side reads the other’s', () => {
    const timestamps = [0, 1, 1_700_000_123_456, Date.now(), 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
    const devices = [0, 1, 2, 127, 0x8086_2021, 0xffff_ffff];
    for (const s of samples) {
      for (let i = 0; i < timestamps.length; i++) {
        const ts = timestamps[i] as number;
        const dev = devices[i] as number;
        const theirs = lib103.DecryptionErrorMessage.forOriginal(ab(s.bytes), s.type, ts, dev);
        const ours = DecryptionErrorMessage.forOriginal(s.bytes, s.type, ts, dev);
        expect(toHex(ours.serialize()), s.label).toBe(toHex(theirs.serialize()));
        // ratchet key present exactly for 1:1 messages, and it is the message's sender ratchet key
        expect(theirs.ratchetKey() === undefined, s.label).toBe(s.type === FailedMessageType.SenderKey);
        same(libFields(theirs), ourFields(ours));
        same(libFields(theirs), ourFields(DecryptionErrorMessage.deserialize(theirs.serialize())));
        same(libFields(lib103.DecryptionErrorMessage.deserialize(ab(ours.serialize()))), ourFields(ours));
      }
    }
  });

  it('PlaintextContent: same framing, and each side extracts the other’s message', () => {
    for (const s of samples) {
      const theirDem = lib103.DecryptionErrorMessage.forOriginal(ab(s.bytes), s.type, 1_700_000_123_456, 4);
      const ourDem = DecryptionErrorMessage.forOriginal(s.bytes, s.type, 1_700_000_123_456, 4);
      const theirs = lib103.PlaintextContent.from(theirDem);
      const ours = PlaintextContent.from(ourDem);
      expect(toHex(ours.serialize()), s.label).toBe(toHex(theirs.serialize()));
      expect(theirs.asCiphertextMessage().type()).toBe(FailedMessageType.Plaintext);

      // theirs → ours
      const parsed = PlaintextContent.deserialize(theirs.serialize());
      expect(toHex(parsed.body)).toBe(toHex(theirs.body()));
      same(libFields(theirDem), ourFields(parsed.decryptionErrorMessage()));
      same(libFields(theirDem), ourFields(DecryptionErrorMessage.extractFromSerializedBody(theirs.body())));

      // ours → theirs
      const theirView = lib103.PlaintextContent.deserialize(ab(ours.serialize()));
      expect(toHex(theirView.body())).toBe(toHex(ours.body));
      same(
        libFields(lib103.DecryptionErrorMessage.extractFromSerializedBody(ab(ours.body))),
        ourFields(ourDem),
      );
      expect(toHex(theirView.serialize())).toBe(toHex(ours.serialize()));
    }
  });

  it('libsignal refuses a plaintext original as we do', () => {
    expect(() => lib103.DecryptionErrorMessage.forOriginal(ab(new Uint8Array(0)), 8, 5, 7)).toThrow();
    expect(() => DecryptionErrorMessage.forOriginal(new Uint8Array(0), 8, 5, 7)).toThrow(RangeError);
  });
});

describe('a failed decrypt on either side becomes a receipt the sender reads', () => {
  it('libsignal lost its session: its receipt names the ratchet key of our message', async () => {
    const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', deviceId: 2 });
    const theirs = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
    await ours.processBundle(theirs.address, await theirs.createBundle());
    await theirs.decrypt(ours.address, await ours.encrypt(theirs.address, utf8('first')));
    await ours.decrypt(theirs.address, await theirs.encrypt(ours.address, utf8('reply')));
    const m = await ours.encrypt(theirs.address, utf8('lost'));
    expect(m.type).toBe('whisper');
    theirs.party.stores.session.deleteSession(ours.address);
    await expect(theirs.decrypt(ours.address, m)).rejects.toThrow();
    // what Signal-Desktop does on a decryption error: forOriginal → PlaintextContent.from
    const receipt = lib103.PlaintextContent.from(
      lib103.DecryptionErrorMessage.forOriginal(ab(m.body), 2, 1_700_000_000_001, ours.address.deviceId),
    ).serialize();
    const dem = PlaintextContent.deserialize(receipt).decryptionErrorMessage();
    expect(dem.timestamp).toBe(1_700_000_000_001);
    expect(dem.deviceId).toBe(2);
    expect(toHex(dem.ratchetKey!.serialize())).toBe(
      toHex(SignalMessage.deserialize(m.body).ratchetKey.serialize()),
    );
  });

  it('we lost ours: our receipt names the ratchet key libsignal sent with', async () => {
    const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node' });
    const theirs = libEndpoint(libs.lib103, { name: crypto.randomUUID(), deviceId: 9 });
    await theirs.processBundle(ours.address, await ours.createBundle());
    await ours.decrypt(theirs.address, await theirs.encrypt(ours.address, utf8('first')));
    await theirs.decrypt(ours.address, await ours.encrypt(theirs.address, utf8('reply')));
    const m = await theirs.encrypt(ours.address, utf8('lost'));
    await ours.store.removeSession(theirs.address);
    await expect(ours.decrypt(theirs.address, m)).rejects.toThrow();
    const receipt = PlaintextContent.from(
      DecryptionErrorMessage.forOriginal(m.body, typeNumber(m), 1_700_000_000_002, 9),
    ).serialize();
    const theirView = lib103.DecryptionErrorMessage.extractFromSerializedBody(
      lib103.PlaintextContent.deserialize(ab(receipt)).body(),
    );
    const expected = lib103.DecryptionErrorMessage.forOriginal(
      ab(m.body),
      typeNumber(m),
      1_700_000_000_002,
      9,
    );
    expect(theirView.timestamp()).toBe(1_700_000_000_002);
    expect(theirView.deviceId()).toBe(9);
    expect(toHex(theirView.ratchetKey()!.serialize())).toBe(toHex(expected.ratchetKey()!.serialize()));
  });
});

describe('differential garbage run: whatever we accept, libsignal accepts and reads the same', () => {
  let valid: Uint8Array[];
  beforeAll(() => {
    valid = samples.flatMap((s) => {
      const dem = DecryptionErrorMessage.forOriginal(s.bytes, s.type, 1_700_000_123_456, 3);
      return [dem.serialize(), PlaintextContent.from(dem).serialize(), s.bytes.slice(0, 200)];
    });
  });
  const damaged = () =>
    fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc
        .tuple(fc.constantFrom(...valid), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }))
        .map(([v, cut, at, x]) => {
          const b = v.slice(0, Math.max(1, cut % (v.length + 1)));
          b[at % b.length] = (b[at % b.length] as number) ^ x;
          return b;
        }),
      fc
        .tuple(fc.constantFrom(...valid), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 }))
        .map(([v, at, ins]) => {
          const i = at % (v.length + 1);
          return new Uint8Array([...v.subarray(0, i), ...ins, ...v.subarray(i)]);
        }),
      fc.constantFrom(...valid),
    );

  const attempt = <T>(f: () => T): T | undefined => {
    try {
      return f();
    } catch {
      return undefined;
    }
  };

  it('DecryptionErrorMessage.deserialize and extractFromSerializedBody', () => {
    let accepted = 0;
    fc.assert(
      fc.property(damaged(), (b) => {
        const ours = attempt(() => DecryptionErrorMessage.deserialize(b));
        const theirs = attempt(() => lib103.DecryptionErrorMessage.deserialize(ab(b)));
        if (ours) {
          accepted++;
          expect(theirs).toBeDefined();
          same(libFields(theirs!), ourFields(ours));
        }
        const body = b.length > 0 && b[0] === 0xc0 ? b.subarray(1) : b;
        const oursX = attempt(() => DecryptionErrorMessage.extractFromSerializedBody(body));
        const theirsX = attempt(() => lib103.DecryptionErrorMessage.extractFromSerializedBody(ab(body)));
        if (oursX) {
          accepted++;
          expect(theirsX).toBeDefined();
          same(libFields(theirsX!), ourFields(oursX));
        }
      }),
      { numRuns: 1500 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('PlaintextContent.deserialize and forOriginal', () => {
    fc.assert(
      fc.property(damaged(), fc.constantFrom(2, 3, 7) as fc.Arbitrary<2 | 3 | 7>, (b, type) => {
        const ours = attempt(() => PlaintextContent.deserialize(b));
        const theirs = attempt(() => lib103.PlaintextContent.deserialize(ab(b)));
        expect(ours !== undefined, 'PlaintextContent acceptance').toBe(theirs !== undefined);
        if (ours) expect(toHex(ours.body)).toBe(toHex(theirs!.body()));
        const oursDem = attempt(() => DecryptionErrorMessage.forOriginal(b, type, 5, 1));
        const theirsDem = attempt(() => lib103.DecryptionErrorMessage.forOriginal(ab(b), type, 5, 1));
        if (oursDem) {
          expect(theirsDem).toBeDefined();
          expect(toHex(oursDem.serialize())).toBe(toHex(theirsDem!.serialize()));
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe('healing with a libsignal peer (restore from an older backup on either side)', () => {
  const converse = async (
    a: {
      encrypt: (to: typeof b.address, p: Uint8Array) => Promise<RawWireMessage>;
      address: { name: string; deviceId: number };
    },
    b: {
      decrypt: (from: typeof a.address, m: RawWireMessage) => Promise<Uint8Array>;
      address: { name: string; deviceId: number };
    },
    body: string,
  ) => {
    const m = await a.encrypt(b.address, utf8(body));
    expect(new TextDecoder().decode(await b.decrypt(a.address, m))).toBe(body);
  };

  it('libsignal is restored: its receipt makes us archive, start over from its fresh bundle and resend from the cache', async () => {
    const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node' });
    const theirs = libEndpoint(libs.lib103, { name: crypto.randomUUID(), deviceId: 3 });
    const clock = { now: 1_700_000_000_000 };
    const cache = await ResendCache.create({
      key: new Uint8Array(32).fill(7),
      store: new InMemoryResendStore(),
      provider: nodeProvider,
      now: () => clock.now,
    });
    const policy = new RetryPolicy({ now: () => clock.now });
    await ours.processBundle(theirs.address, await theirs.createBundle());
    await converse(ours, theirs, 'one');
    await converse(theirs, ours, 'two');
    const backup = theirs.party.sessionBytes(ours.address)!;
    await converse(ours, theirs, 'three');
    await converse(theirs, ours, 'four');
    await converse(ours, theirs, 'five');
    await converse(theirs, ours, 'six');
    theirs.party.restoreSession(ours.address, backup);

    const timestamp = clock.now;
    const lost = await ours.encrypt(theirs.address, utf8('after their restore'));
    await cache.put(theirs.address, timestamp, utf8('after their restore'));
    await expect(theirs.decrypt(ours.address, lost)).rejects.toThrow();
    // libsignal's side, as Signal-Desktop does it
    const receipt = lib103.PlaintextContent.from(
      lib103.DecryptionErrorMessage.forOriginal(
        ab(lost.body),
        typeNumber(lost),
        timestamp,
        ours.address.deviceId,
      ),
    ).serialize();

    // ours: the flow from the README
    const request = PlaintextContent.deserialize(receipt).decryptionErrorMessage();
    const record = await ours.store.getSession(theirs.address);
    expect(toHex(currentRatchetKey(record)!.serialize())).toBe(
      toHex(SignalMessage.deserialize(lost.body).ratchetKey.serialize()),
    );
    const cached = await cache.get(theirs.address, request.timestamp);
    const plan = planRetryResponse({
      request,
      localDeviceId: ours.address.deviceId,
      currentRatchetKey: currentRatchetKey(record),
      hasCachedMessage: cached !== undefined,
      decision: policy.allowResponse(theirs.address, request.timestamp),
    });
    expect(plan).toEqual({
      archiveSession: true,
      action: 'resend',
      reshareSenderKey: false,
      reason: 'answered',
    });
    record!.archiveCurrentState();
    await ours.store.saveSession(theirs.address, record!);
    expect(await ours.cipher(theirs.address).hasSession()).toBe(false);
    await ours.processBundle(theirs.address, await theirs.createBundle());
    const resent = await ours.encrypt(theirs.address, cached!.plaintext);
    expect(resent.type).toBe('prekey');
    expect(new TextDecoder().decode(await theirs.decrypt(ours.address, resent))).toBe('after their restore');
    await converse(theirs, ours, 'healed');
    await converse(ours, theirs, 'healed too');
  });

  it('we are restored: our receipt names libsignal’s current ratchet key (currentRatchetKeyMatches), it starts over and resends', async () => {
    const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', deviceId: 2 });
    const theirs = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
    await theirs.processBundle(ours.address, await ours.createBundle());
    await converse(theirs, ours, 'one');
    await converse(ours, theirs, 'two');
    const backup = ours.store.snapshot();
    await converse(theirs, ours, 'three');
    await converse(ours, theirs, 'four');
    await converse(theirs, ours, 'five');
    await converse(ours, theirs, 'six');
    ours.store.restore(backup);

    const lost = await theirs.encrypt(ours.address, utf8('after our restore'));
    const err = await ours.decrypt(theirs.address, lost).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isRetryableDecryptError(err)).toBe(true);
    const receipt = createRetryRequest({
      type: lost.type,
      body: lost.body,
      timestamp: 1_700_000_000_123,
      senderDeviceId: theirs.address.deviceId,
    });

    // libsignal's side: parse, archive iff the ratchet key is its current one, start over, resend
    const dem = lib103.DecryptionErrorMessage.extractFromSerializedBody(
      lib103.PlaintextContent.deserialize(ab(receipt.serialize())).body(),
    );
    expect(dem.timestamp()).toBe(1_700_000_000_123);
    expect(dem.deviceId()).toBe(theirs.address.deviceId);
    const theirRecord = lib103.SessionRecord.deserialize(ab(theirs.party.sessionBytes(ours.address)!));
    expect(theirRecord.currentRatchetKeyMatches(dem.ratchetKey()!)).toBe(true);
    theirRecord.archiveCurrentState();
    theirs.party.restoreSession(ours.address, theirRecord.serialize());
    await theirs.processBundle(ours.address, await ours.createBundle());
    const resent = await theirs.encrypt(ours.address, utf8('after our restore'));
    expect(resent.type).toBe('prekey');
    expect(new TextDecoder().decode(await ours.decrypt(theirs.address, resent))).toBe('after our restore');
    await converse(ours, theirs, 'healed');
  });
});
