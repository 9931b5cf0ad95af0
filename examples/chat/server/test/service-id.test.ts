/**
 * ServiceIds and the unknown key-share. The attack: Mallory registers a new account with Bob's
 * published identity key and prekeys. Alice, writing to "mallory", encrypts to Bob's keys; Mallory
 * (or a relay in league with her) hands the envelope to Bob, and with name-only addresses Bob's
 * ratchet decrypted it as a message from Alice, meant for him. Now
 *  1. the relay refuses a registration that reuses another account's identity key (409), and
 *  2. even a relay that stores such an account anyway cannot make it work: sessions are addressed
 *     by ServiceId and bound to both ends (the ratchet's `addresses` field), so Bob's device refuses
 *     a message Alice addressed to another ServiceId.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChatClient, type ChatClientOptions } from '../../client/src/index.js';
import { memoryStore } from '../../client/src/memory-store.js';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { call, makeDevice, register } from './helpers.js';

let relay: Relay;
const clients: ChatClient[] = [];
beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});
const opts = (): ChatClientOptions => ({ serverUrl: relay.url, store: memoryStore() });
const texts = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => m.text);
const notes = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => m.system).map((m) => m.text);

describe('ServiceIds', () => {
  it('each account gets a random ACI; the directory maps names to it; re-registration keeps it', async () => {
    const bobDevice = await makeDevice();
    const bob = await register(relay.url, 'bob', bobDevice);
    const alice = await register(relay.url, 'alice', await makeDevice());
    expect(bob.aci).not.toBe(alice.aci);
    const byName = await call(relay.url, 'GET', '/v1/accounts/name/bob', { token: alice.token });
    expect(byName.body).toEqual({ aci: bob.aci, name: 'bob', devices: [1] });
    const byAci = await call(relay.url, 'GET', `/v1/accounts/aci/${bob.aci}`, { token: alice.token });
    expect(byAci.body).toEqual(byName.body);
    const again = await register(relay.url, 'bob', await makeDevice(), bob.recoveryCode);
    expect(again.aci).toBe(bob.aci);
  });

  it("refuses a registration that reuses another account's identity key (409 identity_key_taken)", async () => {
    const bobDevice = await makeDevice({ preKeys: 3 });
    const bob = await register(relay.url, 'bob', bobDevice);
    const before = relay.store.dump();
    // Mallory republishes Bob's identity key with prekeys Bob signed (she copied his bundle).
    const copied = await makeDevice({ identity: bobDevice.identity });
    const r = await call(relay.url, 'POST', '/v1/accounts', {
      json: { name: 'mallory', device: copied.registration },
    });
    expect(r.status).toBe(409);
    expect(r.body['error']).toBe('identity_key_taken');
    expect(relay.store.dump()).toEqual(before);
    // Bob himself may re-register with his own key (a restore from backup).
    const restored = await register(relay.url, 'bob', copied, bob.recoveryCode);
    expect(restored.aci).toBe(bob.aci);
  });

  it('a message Alice addresses to "mallory" cannot be read by Bob as from Alice, even if the relay helps', async () => {
    const alice = await ChatClient.register('alice', opts());
    const bob = await ChatClient.register('bob', opts());
    clients.push(alice, bob);
    // Bob knows Alice (a contact), so a message "from alice" that fails is noted in their chat; from
    // a stranger it would be dropped unnoted (client/test/stranger-notes.test.ts).
    await bob.addContact('alice');
    // A relay in league with Mallory stores her account with Bob's identity key and a copy of his
    // current bundle (bypassing the check above), under a ServiceId of its own.
    const malloryAci = '6d0c1a4e-3f2b-4c5d-9e8f-0a1b2c3d4e5f';
    const db = relay.store.db;
    db.prepare(
      "INSERT INTO accounts (aci, name, recovery_hash, created_at) VALUES (?, 'mallory', x'00', 0)",
    ).run(malloryAci);
    db.prepare(
      "INSERT INTO devices (aci, device_id, registration_id, identity_key, token_hash, created_at) SELECT ?, device_id, registration_id, identity_key, x'01', 0 FROM devices WHERE aci = ?",
    ).run(malloryAci, bob.aci);
    for (const table of ['signed_prekeys', 'prekeys', 'kyber_prekeys']) {
      const cols = (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[])
        .map((c) => c.name)
        .filter((c) => c !== 'aci');
      db.prepare(
        `INSERT INTO ${table} (aci, ${cols.join(', ')}) SELECT ?, ${cols.join(', ')} FROM ${table} WHERE aci = ?`,
      ).run(malloryAci, bob.aci);
    }
    await alice.sendText('mallory', 'for mallory only');
    // The relay re-addresses the envelope to Bob, and says it is from Alice (which it is).
    const moved = db.prepare('UPDATE envelopes SET to_aci = ? WHERE to_aci = ?').run(bob.aci, malloryAci);
    expect(moved.changes).toBe(1);
    await bob.syncOnce();
    expect(await texts(bob, 'dm:alice')).toEqual([]);
    expect(await notes(bob, 'dm:alice')).toEqual([
      expect.stringMatching(/^could not decrypt a message from alice/),
    ]);
    // Bob's state is untouched by the refused message: Alice's real messages to Bob still work.
    await alice.sendText('bob', 'hello bob');
    await bob.syncOnce();
    expect(await texts(bob, 'dm:alice')).toEqual(['hello bob']);
  });

  it('a client pins name ↔ ServiceId: a directory that re-points a known name is refused, the envelope dropped', async () => {
    const alice = await ChatClient.register('alice', opts());
    const bob = await ChatClient.register('bob', opts());
    clients.push(alice, bob);
    await bob.sendText('alice', 'hi alice');
    await alice.syncOnce();
    // The relay now claims "bob" is another account and delivers an envelope from it.
    const db = relay.store.db;
    const impostor = '0f1e2d3c-4b5a-4697-8877-665544332211';
    db.prepare("UPDATE accounts SET name = 'bob-old' WHERE aci = ?").run(bob.aci);
    db.prepare("INSERT INTO accounts (aci, name, recovery_hash, created_at) VALUES (?, 'bob', x'00', 0)").run(
      impostor,
    );
    db.prepare(
      "INSERT INTO devices (aci, device_id, registration_id, identity_key, token_hash, created_at) VALUES (?, 1, 1, x'05', x'02', 0)",
    ).run(impostor);
    db.prepare(
      "INSERT INTO envelopes (to_aci, to_device, from_aci, from_device, type, body, server_ts) VALUES (?, 1, ?, 1, 'whisper', x'01', 0)",
    ).run(alice.aci, impostor);
    await alice.syncOnce();
    expect(await notes(alice, 'directory')).toEqual([
      'dropped a message from an unknown sender (directory_mismatch)',
    ]);
    expect(relay.store.pending(alice.aci, 1)).toEqual([]); // dropped for good, not retried forever
    expect(await texts(alice, 'dm:bob')).toEqual(['hi alice']);
  });
});
