// Two copies of @e2ee-kit/sender-keys in one app (its ESM and CommonJS builds, or two versions in a
// bundle): a `SenderKeyDistributionMessage` or `SenderKeyMessage` object one copy made (a transport
// layer that decodes with its own copy) is handed to the other copy's `GroupCipher`. `instanceof` and
// private fields see only their own copy, so these were refused with a TypeError, while records and
// core's keys of another copy are read through their serialized form. The messages now are too
// (recognised by a brand, read through one `serialize()` with a length cap, validated as bytes are);
// a branded object that does not serialize to such a message is refused as bad bytes are. The second
// copy is a second module instance of the same sources (vi.resetModules: core evaluated again too).
import { afterEach, expect, it, vi } from 'vitest';

type SenderKeys = typeof import('@e2ee-kit/sender-keys');
type Testing = typeof import('@e2ee-kit/sender-keys/testing');

const D = '0c6d7e8f-1111-4222-8333-4444555566bb';
const alice = { name: 'alice', deviceId: 1 };
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const SKDM = Symbol.for('@e2ee-kit/sender-keys/SenderKeyDistributionMessage@1');
const SKM = Symbol.for('@e2ee-kit/sender-keys/SenderKeyMessage@1');

async function load(): Promise<{ keys: SenderKeys; testing: Testing }> {
  vi.resetModules();
  return {
    keys: await import('@e2ee-kit/sender-keys'),
    testing: await import('@e2ee-kit/sender-keys/testing'),
  };
}

afterEach(() => void vi.resetModules());

/** Alice's sender (copy `a`) and a receiver (copy `a`) that has not yet seen her chain. */
async function setUp() {
  const a = await load();
  const b = await load();
  expect(b.keys.SenderKeyMessage).not.toBe(a.keys.SenderKeyMessage);
  const sender = new a.keys.GroupCipher(new a.testing.InMemorySenderKeyStore());
  const skdm = await sender.createDistributionMessage(alice, D);
  const store = new a.testing.InMemorySenderKeyStore();
  return { a, b, sender, skdm, store, receiver: new a.keys.GroupCipher(store) };
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => 'resolved',
    (e: unknown) => (e instanceof TypeError ? 'TypeError' : (e as { code?: string }).code),
  );

it("another copy's distribution message and group messages are taken by processDistributionMessage, decrypt and tryDecrypt", async () => {
  const { b, sender, skdm, receiver } = await setUp();
  // The transport layer decoded with copy b.
  const theirs = b.keys.SenderKeyDistributionMessage.deserialize(skdm.serialize());
  await receiver.processDistributionMessage(alice, theirs);
  const one = b.keys.SenderKeyMessage.deserialize(await sender.encrypt(alice, D, utf8('one')));
  const two = b.keys.SenderKeyMessage.deserialize(await sender.encrypt(alice, D, utf8('two')));
  expect(text((await receiver.decrypt(alice, one)).plaintext)).toBe('one');
  const outcome = await receiver.tryDecrypt(alice, two);
  expect(outcome.status === 'decrypted' && text(outcome.plaintext)).toBe('two');
  // Read as this copy's message: a replay of it is a duplicate, as its bytes would be.
  expect((await receiver.tryDecrypt(alice, one)).status).toBe('duplicate');
});

it("another copy's distribution message: the array its serialize() returned (it holds the chain key) is overwritten once read", async () => {
  const { b, sender, skdm, receiver } = await setUp();
  const theirs = b.keys.SenderKeyDistributionMessage.deserialize(skdm.serialize());
  const handed: Uint8Array[] = [];
  const watched = new Proxy(theirs, {
    get: (target, name) =>
      name === 'serialize'
        ? () => {
            const bytes = target.serialize();
            handed.push(bytes);
            return bytes;
          }
        : Reflect.get(target, name, target),
  });
  await receiver.processDistributionMessage(alice, watched);
  expect(handed.length).toBe(1);
  expect(handed[0]!.length).toBe(skdm.serialize().length);
  expect(handed[0]!.every((x) => x === 0)).toBe(true);
  // What was read is this copy's own copy: the message still decrypts.
  expect(text((await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('hi')))).plaintext)).toBe(
    'hi',
  );
});

it('a branded object that does not serialize to such a message is refused as bad bytes (DECODE), nothing stored', async () => {
  const { skdm, sender, store, receiver } = await setUp();
  const wire = await sender.encrypt(alice, D, utf8('m'));
  const bad: Array<() => unknown> = [
    () => Uint8Array.of(1, 2, 3), // not a message
    () => 'not bytes',
    () => {
      throw new Error('broken, and it quotes a secret');
    },
  ];
  for (const serialize of bad) {
    const forgedDistribution = { [SKDM]: true, serialize };
    const error = await receiver
      .processDistributionMessage(alice, forgedDistribution as never)
      .catch((e) => e);
    expect((error as { code?: string }).code).toBe('DECODE');
    // A distribution message holds a chain key: nothing of the other object's error is passed on.
    expect(String((error as Error).message)).not.toContain('secret');
    expect((error as Error).cause).toBeUndefined();
  }
  expect([...store.snapshot()]).toEqual([]);
  await receiver.processDistributionMessage(alice, skdm);
  const before = [...store.snapshot()];
  // A group message's bytes offered as a distribution message's, and the reverse: each class's own
  // validation, as for bytes.
  const crossed = [
    receiver.processDistributionMessage(alice, { [SKDM]: true, serialize: () => wire.slice() } as never),
    receiver.decrypt(alice, { [SKM]: true, serialize: () => skdm.serialize() } as never),
  ];
  expect(await Promise.all(crossed.map(codeOf))).toEqual(['DECODE', 'DECODE']);
  for (const serialize of bad) {
    const forged = { [SKM]: true, serialize };
    expect(await codeOf(receiver.decrypt(alice, forged as never))).toBe('DECODE');
    expect((await receiver.tryDecrypt(alice, forged as never)).status).toBe('rejected');
  }
  expect([...store.snapshot()]).toEqual(before);
  expect(text((await receiver.decrypt(alice, wire)).plaintext)).toBe('m');
});

it("another copy's message whose serialization is over the cap is refused unread, though its bytes are taken", async () => {
  const { b, sender, skdm, receiver } = await setUp();
  // The caps: 4 KiB for a distribution message (a real one is about 100 bytes), 4 MiB for a group
  // message (sealed sender's cap on what carries it). Valid messages just over them, read by copy b:
  // a distribution message padded with an unknown field (which decoders skip), a 4 MiB plaintext.
  const base = skdm.serialize();
  const pad = 4097 - base.length - 3;
  const padded = new Uint8Array(4097);
  padded.set(base);
  padded.set([(15 << 3) | 2, (pad & 0x7f) | 0x80, pad >> 7], base.length);
  const bigWire = await sender.encrypt(alice, D, new Uint8Array(4 * 1024 * 1024));
  expect(bigWire.length).toBeGreaterThan(4 * 1024 * 1024);
  const theirs = b.keys.SenderKeyDistributionMessage.deserialize(padded);
  expect(await codeOf(receiver.processDistributionMessage(alice, theirs))).toBe('DECODE');
  await receiver.processDistributionMessage(alice, padded);
  const big = b.keys.SenderKeyMessage.deserialize(bigWire);
  expect(await codeOf(receiver.decrypt(alice, big))).toBe('DECODE');
  expect((await receiver.decrypt(alice, bigWire)).plaintext.length).toBe(4 * 1024 * 1024);
});

it('an unbranded object is still a TypeError', async () => {
  const { skdm, receiver } = await setUp();
  const plain = { serialize: () => skdm.serialize() };
  expect(await codeOf(receiver.processDistributionMessage(alice, plain as never))).toBe('TypeError');
  expect(await codeOf(receiver.decrypt(alice, plain as never))).toBe('TypeError');
});
