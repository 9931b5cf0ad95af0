/**
 * A group's title is chosen by its creator and stored and shown by every member: it is bounded when
 * created (32 characters, as Signal-Desktop's title field; and 1024 UTF-8 bytes, what every member's
 * decoder accepts) and when received (content.test.ts). A refused title leaves nothing behind: no
 * group stored, nothing sent.
 */
import { expect, it } from 'vitest';
import { ChatClient } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

async function pair() {
  const alice = await ChatClient.register('alice', bed.opts({ receipts: false }));
  const bob = await ChatClient.register('bob', bed.opts({ receipts: false }));
  bed.clients.push(alice, bob);
  await bob.addContact('alice');
  await alice.addContact('bob');
  return { alice, bob };
}

// One grapheme of 7 code points (11 UTF-16 units, 25 UTF-8 bytes).
const FAMILY = '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}\u200D\u{1F466}';

it('refuses to create a group with a title over 32 characters or 1024 bytes, and stores and sends nothing', async () => {
  const { alice, bob } = await pair();
  // 'e' + 200 combining acute accents is one character of 401 UTF-8 bytes: 3 of them are 1203 bytes.
  const heavy = `e${'\u0301'.repeat(200)}`;
  for (const title of ['x'.repeat(33), FAMILY.repeat(33), heavy.repeat(3), 'y'.repeat(60_000)]) {
    await expect(alice.createGroup(title, ['bob'])).rejects.toBeInstanceOf(RangeError);
  }
  expect(await alice.groups()).toEqual([]);
  expect(bed.relay.store.pending(bob.aci, 1)).toHaveLength(0);
});

it('creates a group with a 32-character title, even of long emoji, and the member gets it as it is', async () => {
  const { alice, bob } = await pair();
  for (const title of ['x'.repeat(32), FAMILY.repeat(32)]) {
    const group = await alice.createGroup(title, ['bob']);
    await bob.syncOnce();
    expect((await bob.groups()).find((g) => g.id === group.id)?.title).toBe(title);
  }
});
