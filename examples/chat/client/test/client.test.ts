import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { E2eeError } from '@e2ee-kit/core';
import { KvStore, type KvWrite } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { ChatClient, type ChatClientOptions, type StoreOpener } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
const opts = (extra: Partial<ChatClientOptions> = {}): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  store: memoryStore(),
  ...extra,
});
async function register(name: string, extra: Partial<ChatClientOptions> = {}) {
  const c = await ChatClient.register(name, opts(extra));
  clients.push(c);
  return c;
}
const over =
  (backend: MemoryKvBackend): StoreOpener =>
  (o) =>
    KvStore.open(backend, o);
const texts = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => m.text);

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

describe('ChatClient', () => {
  it('refills one-time prekeys when the relay reports a low count over the WebSocket', async () => {
    const bob = await register('bob', { preKeyBatch: 12 });
    const alice = await register('alice');
    const refills: number[] = [];
    bob.on('prekeys-refilled', (e) => refills.push(e.preKeys));
    await bob.connect();
    expect((await bob.api.preKeyStatus()).preKeys).toBe(12);
    // Three requesters (one requester gets only two one-time keys a window): one EC + one Kyber key each.
    for (const c of [alice, await register('carol'), await register('dave')]) await c.api.bundles(bob.aci);
    await expect.poll(() => refills.length, { timeout: 10_000 }).toBe(1);
    const status = await bob.api.preKeyStatus();
    expect(status).toEqual({ preKeys: 9 + 12, kyberPreKeys: 9 + 12, low: false });
  });

  it('acknowledges an envelope only after the decrypted message was committed', async () => {
    let failCommits = 0;
    class FlakyBackend extends MemoryKvBackend {
      override async commit(writes: readonly KvWrite[]): Promise<void> {
        if (failCommits > 0 && writes.some((w) => w.table === 'app' && w.key.startsWith('msg:'))) {
          failCommits--;
          throw new Error('disk full');
        }
        await super.commit(writes);
      }
    }
    const store = over(new FlakyBackend());
    const bob = await register('bob', { store });
    const alice = await register('alice');
    await alice.sendText('bob', 'first');
    failCommits = 1;
    await bob.connect();
    // The commit failed: nothing stored, nothing acknowledged, the relay still queues it.
    await expect.poll(() => relay.store.pending(bob.aci, 1).length).toBe(1);
    expect(await texts(bob, 'dm:alice')).toEqual([]);
    bob.disconnect();
    // Reconnecting delivers it again; this time it is stored, then acknowledged.
    const again = await ChatClient.open({ ...opts(), store });
    clients.push(again);
    await again.connect();
    expect(await texts(again, 'dm:alice')).toEqual(['first']);
    await expect.poll(() => relay.store.pending(bob.aci, 1).length).toBe(0);
  });

  it('asks for a resend when a group message arrives without the sender key, then reads it', async () => {
    const alice = await register('alice');
    const carolBackend = new MemoryKvBackend();
    const carol = await register('carol', { store: over(carolBackend) });
    await carol.addContact('alice');
    const group = await alice.createGroup('g', ['carol']);
    await carol.syncOnce();
    await alice.sendGroupText(group.id, 'before');
    await carol.syncOnce();
    expect(await texts(carol, `group:${group.id}`)).toEqual(['before']);
    // Carol's device loses Alice's sender key (e.g. a restore from an old backup).
    const lost = (await carolBackend.list('sender_key')).filter(([k]) => k.startsWith('alice.1\u0000'));
    expect(lost).toHaveLength(1);
    await carolBackend.commit(lost.map(([key]) => ({ table: 'sender_key', key, value: null })));
    await alice.sendGroupText(group.id, 'after the loss');
    await carol.syncOnce(); // missing key: kept, acknowledged, resend requested
    expect(await texts(carol, `group:${group.id}`)).toEqual(['before']);
    expect(relay.store.pending(carol.aci, 1)).toEqual([]);
    await alice.syncOnce(); // Alice answers the resend request with her distribution message
    await carol.syncOnce(); // Carol processes it and decrypts the kept message
    expect(await texts(carol, `group:${group.id}`)).toEqual(['before', 'after the loss']);
  });

  it('keeps state across ChatClient.open on the same storage (a page reload)', async () => {
    const store = memoryStore();
    const alice = await register('alice', { store });
    const bob = await register('bob');
    await alice.sendText('bob', 'one');
    await bob.syncOnce();
    const reopened = await ChatClient.open({ ...opts(), store });
    await reopened.sendText('bob', 'two');
    await bob.syncOnce();
    expect(await texts(bob, 'dm:alice')).toEqual(['one', 'two']);
    expect(await texts(reopened, 'dm:bob')).toEqual(['one', 'two']);
  });

  it('refuses a backup restore with a wrong 64-digit key and restores with the right one', async () => {
    const alice = await register('alice');
    const b = await alice.backup({
      recoveryKey: true,
      password: 'long enough password',
      argon2: MIN_ARGON2_PARAMS,
    });
    const code = await alice.recoveryCode();
    const wrong = `${b.recoveryKey!.slice(0, -1)}${b.recoveryKey!.endsWith('0') ? '1' : '0'}`;
    await expect(ChatClient.restore('alice', code, { recoveryKey: wrong }, opts())).rejects.toSatisfy(
      (e: unknown) => E2eeError.is(e),
    );
    const { client } = await ChatClient.restore('alice', code, { recoveryKey: b.recoveryKey! }, opts());
    clients.push(client);
    expect(client.identityKey.equals(alice.identityKey)).toBe(true);
  });

  it('a restored device keeps its history, reads the group with the backed-up sender keys, and sends on', async () => {
    const alice = await register('alice');
    const bob = await register('bob');
    await bob.addContact('alice');
    const group = await alice.createGroup('g', ['bob']);
    await alice.sendText('bob', 'dm before');
    await alice.sendGroupText(group.id, 'group before');
    await bob.syncOnce();
    await bob.backup({ password: 'long enough password', argon2: MIN_ARGON2_PARAMS });
    const code = await bob.recoveryCode();
    const { client: restored } = await ChatClient.restore(
      'bob',
      code,
      { password: 'long enough password' },
      opts(),
    );
    clients.push(restored);
    expect(await texts(restored, 'dm:alice')).toEqual(['dm before']);
    expect(await texts(restored, `group:${group.id}`)).toEqual(['group before']);
    expect((await restored.groups()).map((g) => g.id)).toEqual([group.id]);
    expect(await restored.contacts()).toEqual(['alice']);
    // Alice's chain continues: the restored device reads it with the sender key from the backup.
    await alice.sendGroupText(group.id, 'group after');
    await restored.syncOnce();
    expect(await texts(restored, `group:${group.id}`)).toEqual(['group before', 'group after']);
    // Its own sends go on new sessions and a rotated sender key, which Alice reads.
    await restored.sendText('alice', 'dm from the restored device');
    await restored.sendGroupText(group.id, 'group from the restored device');
    await alice.syncOnce();
    expect(await texts(alice, 'dm:bob')).toEqual(['dm before', 'dm from the restored device']);
    expect(await texts(alice, `group:${group.id}`)).toEqual([
      'group before',
      'group after',
      'group from the restored device',
    ]);
  });
});
