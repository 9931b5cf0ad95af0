import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { INVITATION_LIFETIME_MS, InvitationError } from '../src/group-consent.js';
import { ChatClient, type ChatClientOptions, encodeContent, RelayError } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
const DAY = 24 * 60 * 60 * 1000;

async function register(name: string, extra: Partial<ChatClientOptions> = {}) {
  const c = await ChatClient.register(name, {
    serverUrl: relay.url,
    webSocket: (url) => new WebSocket(url) as never,
    store: memoryStore(),
    ...extra,
  });
  clients.push(c);
  return c;
}
const texts = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => m.text);
const notes = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => m.system).map((m) => m.text);
/** Bob with his own clock and a store whose rows the test can look at. */
async function bobWithClock(start = Date.now()) {
  const clock = { now: start };
  const backend = new MemoryKvBackend();
  const bob = await register('bob', { now: () => clock.now, store: (o) => KvStore.open(backend, o) });
  return { bob, clock, backend };
}

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

describe('who can add me', () => {
  it('defaults to my contacts, who are only the people I added (not the directory)', async () => {
    const bob = await register('bob');
    await register('alice');
    expect(await bob.whoCanAddMe()).toBe('contacts');
    expect(await bob.contacts()).toEqual([]);
    await bob.addContact('alice');
    expect(await bob.contacts()).toEqual(['alice']);
    // Only an exact name of an existing account can be added.
    await expect(bob.addContact('alic')).rejects.toBeInstanceOf(RelayError);
    expect(await bob.contacts()).toEqual(['alice']);
    await bob.removeContact('alice');
    expect(await bob.contacts()).toEqual([]);
  });

  it('keeps the setting and refuses malformed ones', async () => {
    const bob = await register('bob');
    await bob.setWhoCanAddMe({ contactsExcept: ['carol', 'carol'] });
    expect(await bob.whoCanAddMe()).toEqual({ contactsExcept: ['carol'] });
    await expect(bob.setWhoCanAddMe('nobody' as never)).rejects.toBeInstanceOf(TypeError);
    await expect(bob.setWhoCanAddMe({ contactsExcept: [''] })).rejects.toBeInstanceOf(TypeError);
    expect(await bob.whoCanAddMe()).toEqual({ contactsExcept: ['carol'] });
    await bob.setWhoCanAddMe('everyone');
    expect(await bob.whoCanAddMe()).toBe('everyone');
  });

  it('"my contacts": an add from a contact joins directly', async () => {
    const bob = await register('bob');
    const alice = await register('alice');
    await bob.addContact('alice');
    const group = await alice.createGroup('lunch', ['bob']);
    await bob.syncOnce();
    expect((await bob.groups()).map((g) => [g.id, g.active])).toEqual([[group.id, true]]);
    expect(await bob.invitations()).toEqual([]);
    await alice.sendGroupText(group.id, 'hi');
    await bob.syncOnce();
    expect(await texts(bob, `group:${group.id}`)).toEqual(['hi']);
  });

  it('"everyone": an add from a stranger joins directly', async () => {
    const bob = await register('bob');
    const alice = await register('alice');
    await bob.setWhoCanAddMe('everyone');
    const group = await alice.createGroup('lunch', ['bob']);
    await bob.syncOnce();
    expect((await bob.groups()).map((g) => g.id)).toEqual([group.id]);
  });

  it('"my contacts except…": the excepted contact\'s add is an invitation, another contact\'s joins', async () => {
    const bob = await register('bob');
    const alice = await register('alice');
    const dave = await register('dave');
    await bob.addContact('alice');
    await bob.addContact('dave');
    await bob.setWhoCanAddMe({ contactsExcept: ['alice'] });
    const fromAlice = await alice.createGroup('from alice', ['bob']);
    const fromDave = await dave.createGroup('from dave', ['bob']);
    await bob.syncOnce();
    expect((await bob.groups()).map((g) => g.id)).toEqual([fromDave.id]);
    expect((await bob.invitations()).map((i) => [i.group.id, i.inviter])).toEqual([[fromAlice.id, 'alice']]);
  });
});

describe('invitations', () => {
  it('an add from a non-contact is an invitation: no group state, no sender key either way, messages dropped', async () => {
    const start = Date.UTC(2026, 0, 1);
    const { bob, backend } = await bobWithClock(start);
    const alice = await register('alice');
    const carol = await register('carol');
    const invited: string[] = [];
    await carol.addContact('alice');
    bob.on('invitation', (i) => invited.push(i.group.id));
    const group = await alice.createGroup('lunch', ['bob', 'carol']);
    await alice.sendGroupText(group.id, 'before bob answered');
    const queuedForCarol = relay.store.pending('carol', 1).length;
    await bob.syncOnce();
    expect(invited).toEqual([group.id]);
    expect(await bob.invitations()).toEqual([
      {
        group: { id: group.id, title: 'lunch', admin: 'alice', members: ['alice', 'bob', 'carol'] },
        inviter: 'alice',
        receivedAt: start,
        expiresAt: start + 3 * DAY,
      },
    ]);
    expect(await bob.groups()).toEqual([]);
    expect(await bob.messages(`group:${group.id}`)).toEqual([]);
    // Alice's distribution message was not processed, and Bob sent nothing back (no re-send request).
    expect(await backend.list('sender_key')).toEqual([]);
    expect(relay.store.pending('alice', 1)).toEqual([]);
    expect(relay.store.pending('carol', 1).length).toBe(queuedForCarol);
    // Carol (a member) writes too: Bob keeps nothing of it and answers nothing.
    await carol.syncOnce();
    await carol.sendGroupText(group.id, 'carol before bob answered');
    await bob.syncOnce();
    expect(await backend.list('sender_key')).toEqual([]);
    expect(relay.store.pending('carol', 1)).toEqual([]);
    expect(await bob.messages(`group:${group.id}`)).toEqual([]);
  });

  it('accepting joins the group and tells its members, whose next messages Bob reads (and they read his)', async () => {
    const bob = await register('bob');
    const alice = await register('alice');
    const carol = await register('carol');
    await carol.addContact('alice');
    const group = await alice.createGroup('lunch', ['bob', 'carol']);
    await alice.sendGroupText(group.id, 'before bob answered');
    await carol.syncOnce();
    await bob.syncOnce();
    const joined = await bob.acceptInvitation(group.id);
    expect(joined).toMatchObject({ id: group.id, members: ['alice', 'bob', 'carol'], active: true });
    expect(await bob.invitations()).toEqual([]);
    await expect(bob.acceptInvitation(group.id)).rejects.toMatchObject({
      name: 'InvitationError',
      code: 'unknown',
    });
    await alice.syncOnce();
    await carol.syncOnce();
    expect(await notes(alice, `group:${group.id}`)).toContain('bob joined');
    expect(await notes(carol, `group:${group.id}`)).toContain('bob joined');
    await alice.sendGroupText(group.id, 'after bob joined');
    await carol.sendGroupText(group.id, 'carol after bob joined');
    await bob.sendGroupText(group.id, 'bob here');
    await bob.syncOnce();
    await alice.syncOnce();
    await carol.syncOnce();
    // What was sent before he accepted stays unread; everything after is read on every side.
    expect(await texts(bob, `group:${group.id}`)).toEqual([
      'bob here',
      'after bob joined',
      'carol after bob joined',
    ]);
    expect(await texts(alice, `group:${group.id}`)).toContain('bob here');
    expect(await texts(carol, `group:${group.id}`)).toContain('bob here');
  });

  it('declining tells the inviter (who removes Bob) and keeps nothing of the group', async () => {
    const { bob, backend } = await bobWithClock();
    const alice = await register('alice');
    const group = await alice.createGroup('lunch', ['bob']);
    await alice.sendGroupText(group.id, 'before bob answered');
    await bob.syncOnce();
    await bob.declineInvitation(group.id);
    expect(await bob.invitations()).toEqual([]);
    await expect(bob.acceptInvitation(group.id)).rejects.toBeInstanceOf(InvitationError);
    await alice.syncOnce();
    expect((await alice.groups())[0]?.members).toEqual(['alice']);
    expect(await notes(alice, `group:${group.id}`)).toContain('bob declined the invitation');
    await alice.sendGroupText(group.id, 'after bob declined');
    await bob.syncOnce(); // Alice's removal announcement (which no longer lists Bob)
    expect(await bob.groups()).toEqual([]);
    expect(await bob.invitations()).toEqual([]);
    expect(await bob.messages(`group:${group.id}`)).toEqual([]);
    expect(await backend.list('sender_key')).toEqual([]);
    const rows = (await backend.list('app')).map(([k]) => k);
    expect(rows.filter((k) => k.includes(group.id))).toEqual([]);
  });

  it('expires three days after it arrived: no longer listed, cannot be accepted', async () => {
    const start = Date.UTC(2026, 0, 1);
    const { bob, clock } = await bobWithClock(start);
    const alice = await register('alice');
    const group = await alice.createGroup('lunch', ['bob']);
    await bob.syncOnce();
    clock.now = start + INVITATION_LIFETIME_MS - 1;
    expect((await bob.invitations()).map((i) => i.group.id)).toEqual([group.id]);
    clock.now = start + 3 * DAY;
    expect(await bob.invitations()).toEqual([]);
    await expect(bob.acceptInvitation(group.id)).rejects.toMatchObject({
      name: 'InvitationError',
      code: 'expired',
    });
    expect(await bob.groups()).toEqual([]);
  });
});

describe('updates and strangers', () => {
  it('an update from the admin while the invitation waits keeps its received-at; a removal withdraws it', async () => {
    const start = Date.UTC(2026, 0, 1);
    const { bob, clock } = await bobWithClock(start);
    const alice = await register('alice');
    await register('carol');
    const group = await alice.createGroup('lunch', ['bob', 'carol']);
    await bob.syncOnce();
    clock.now = start + DAY;
    await alice.removeMember(group.id, 'carol');
    await bob.syncOnce();
    expect(await bob.invitations()).toEqual([
      {
        group: { id: group.id, title: 'lunch', admin: 'alice', members: ['alice', 'bob'] },
        inviter: 'alice',
        receivedAt: start,
        expiresAt: start + 3 * DAY,
      },
    ]);
    await alice.removeMember(group.id, 'bob');
    await bob.syncOnce();
    expect(await bob.invitations()).toEqual([]);
    expect(await bob.groups()).toEqual([]);
  });

  it('a group message of a group Bob never heard of is dropped, and he asks for nothing', async () => {
    const { bob, backend } = await bobWithClock();
    const alice = await register('alice');
    await register('carol');
    const group = await alice.createGroup('not with bob', ['carol']);
    const sent = await alice.sendGroupText(group.id, 'for carol only');
    const body = sent.envelopes[0]!.body;
    await bob.receive({ id: 1, from: 'alice', fromDevice: 1, kind: 'senderkey', body, serverTimestamp: 0 });
    expect(await bob.messages(`group:${group.id}`)).toEqual([]);
    expect(await backend.list('sender_key')).toEqual([]);
    expect(relay.store.pending('alice', 1)).toEqual([]);
  });
});

describe('the relay cannot add anyone', () => {
  it('a relay-forged "group" envelope (no valid ciphertext) adds nothing, even with "everyone"', async () => {
    const { bob, backend } = await bobWithClock();
    const alice = await register('alice');
    await bob.setWhoCanAddMe('everyone');
    const forged = encodeContent({
      t: 'group',
      group: { id: 'forged-group', title: 'forged', admin: 'alice', members: ['alice', 'bob'] },
    });
    // Claimed to come from Alice's real ServiceId, so the directory accepts the sender and the bytes
    // reach the decrypt (or, for the one unencrypted kind, the retry-receipt parser).
    const envelope = { from: alice.aci, fromDevice: 1, body: forged, serverTimestamp: Date.now() };
    // Exactly what the relay's socket could hand the client: any kind, any bytes, any claimed sender.
    for (const [id, kind] of [
      [1, 'whisper'],
      [2, 'prekey'],
      [3, 'senderkey'],
      [4, 'sealed'],
      [5, 'plaintext'],
    ] as const) {
      await bob.receive({ ...envelope, id, kind });
    }
    expect(await bob.groups()).toEqual([]);
    expect(await bob.invitations()).toEqual([]);
    expect(await bob.messages('group:forged-group')).toEqual([]);
    expect(await backend.list('sender_key')).toEqual([]);
  });
});
