import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CloseCode, type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call, ecPreKeys, FrameClient, makeDevice, register, signedKem } from './helpers.js';

let relay: Relay;
beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger, limits: { lowPreKeys: 2, lowKyberPreKeys: 1 } });
});
afterEach(async () => {
  await relay.close();
});

const msg = (to: string, body: string, kind = 'whisper') => ({
  to,
  deviceId: 1,
  kind,
  body: b64(new TextEncoder().encode(body)),
});

describe('registration and the key directory', () => {
  it('issues a token and a recovery code once, and looks accounts up by exact name for registered devices only', async () => {
    const alice = await register(relay.url, 'alice', await makeDevice());
    await register(relay.url, 'bob', await makeDevice());
    expect(alice.deviceId).toBe(1);
    expect(alice.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(alice.recoveryCode).toMatch(/^[0-9a-f]{32}$/);
    expect((await call(relay.url, 'GET', '/v1/accounts/name/bob')).status).toBe(401);
    const found = await call(relay.url, 'GET', '/v1/accounts/name/bob', { token: alice.token });
    expect(alice.aci).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(found.body).toEqual({ aci: expect.any(String), name: 'bob', devices: [1] });
    expect((await call(relay.url, 'GET', '/v1/accounts/name/bo', { token: alice.token })).status).toBe(404);
    // No route lists every account.
    expect((await call(relay.url, 'GET', '/v1/accounts', { token: alice.token })).status).toBe(405);
  });

  it('hands out each one-time prekey once and reuses only the last-resort Kyber key', async () => {
    const bobDevice = await makeDevice({ preKeys: 2, kyberPreKeys: 1 });
    const bob = await register(relay.url, 'bob', bobDevice);
    const alice = await register(relay.url, 'alice', await makeDevice());
    const reg = bobDevice.registration as {
      preKeys: { keyId: number }[];
      kyberPreKeys: { keyId: number }[];
      lastResortKyberPreKey: { keyId: number };
    };
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const r = await call(relay.url, 'GET', `/v1/keys/${bob.aci}`, { token: alice.token });
      expect(r.status).toBe(200);
      const d = (r.body['devices'] as Record<string, { keyId: number; lastResort?: boolean } | null>[])[0]!;
      seen.push({
        pre: d['preKey']?.keyId ?? null,
        kyber: d['kyberPreKey']!.keyId,
        lr: d['kyberPreKey']!.lastResort,
      });
    }
    expect(seen).toEqual([
      { pre: reg.preKeys[0]!.keyId, kyber: reg.kyberPreKeys[0]!.keyId, lr: false },
      { pre: reg.preKeys[1]!.keyId, kyber: reg.lastResortKyberPreKey.keyId, lr: true },
      { pre: null, kyber: reg.lastResortKyberPreKey.keyId, lr: true },
      { pre: null, kyber: reg.lastResortKyberPreKey.keyId, lr: true },
    ]);
    const status = await call(relay.url, 'GET', '/v1/prekey-status', { token: bob.token });
    expect(status.body).toEqual({ preKeys: 0, kyberPreKeys: 0, low: true });
    const refill = await call(relay.url, 'PUT', '/v1/keys', {
      token: bob.token,
      json: { preKeys: await ecPreKeys(3), kyberPreKeys: [signedKem(bobDevice.identity)] },
    });
    expect(refill.body).toEqual({ preKeys: 3, kyberPreKeys: 1, low: false });
  });

  it('tells a connected device when its prekeys run low', async () => {
    const bob = await register(relay.url, 'bob', await makeDevice({ preKeys: 2, kyberPreKeys: 3 }));
    const alice = await register(relay.url, 'alice', await makeDevice());
    const ws = await FrameClient.open(relay.wsUrl, bob.token);
    expect(ws.frames.some((f) => f.type === 'prekeys-low')).toBe(false);
    await call(relay.url, 'GET', `/v1/keys/${bob.aci}/1`, { token: alice.token });
    const low = await ws.next((f) => f.type === 'prekeys-low');
    expect(low).toMatchObject({ preKeys: 1, kyberPreKeys: 2, low: true });
    ws.close();
  });

  it('refuses a signed prekey whose signature does not verify with the identity key', async () => {
    const dev = await makeDevice();
    const other = await makeDevice();
    const forged = { ...dev.registration, signedPreKey: other.registration['signedPreKey'] };
    const r = await call(relay.url, 'POST', '/v1/accounts', { json: { name: 'mallory', device: forged } });
    expect(r.status).toBe(400);
    expect(r.body['error']).toBe('bad_signature');
    expect(relay.store.listAccounts()).toEqual([]);
  });
});

describe('delivery', () => {
  it('delivers queued envelopes over the WebSocket and deletes them only when acknowledged', async () => {
    const alice = await register(relay.url, 'alice', await makeDevice());
    const bob = await register(relay.url, 'bob', await makeDevice());
    const sent = await call(relay.url, 'POST', '/v1/messages', {
      token: alice.token,
      json: { messages: [msg(bob.aci, 'one'), msg(bob.aci, 'two', 'prekey')] },
    });
    expect(sent.status).toBe(200);
    const ws = await FrameClient.open(relay.wsUrl, bob.token);
    await ws.next((f) => f.type === 'queue-empty');
    const envs = ws.envelopes();
    expect(envs.map((e) => [e['from'], e['fromDevice'], e['kind'], e['body']])).toEqual([
      [alice.aci, 1, 'whisper', b64(new TextEncoder().encode('one'))],
      [alice.aci, 1, 'prekey', b64(new TextEncoder().encode('two'))],
    ]);
    ws.send({ type: 'ack', id: envs[0]!['id'] });
    // A live message arrives without reconnecting.
    await call(relay.url, 'POST', '/v1/messages', {
      token: alice.token,
      json: { messages: [msg(bob.aci, 'three')] },
    });
    await ws.next((f) => f.type === 'envelope' && f['body'] === b64(new TextEncoder().encode('three')));
    ws.close();
    await ws.closed();
    // Unacknowledged envelopes come again on the next connection; the acknowledged one does not.
    const again = await FrameClient.open(relay.wsUrl, bob.token);
    await again.next((f) => f.type === 'queue-empty');
    expect(again.envelopes().map((e) => Buffer.from(e['body'] as string, 'base64').toString())).toEqual([
      'two',
      'three',
    ]);
    again.close();
  });

  it('refuses a batch that names an unknown recipient as a whole', async () => {
    const alice = await register(relay.url, 'alice', await makeDevice());
    const bob = await register(relay.url, 'bob', await makeDevice());
    const r = await call(relay.url, 'POST', '/v1/messages', {
      token: alice.token,
      json: { messages: [msg(bob.aci, 'x'), msg('00000000-0000-4000-8000-000000000000', 'y')] },
    });
    expect(r.status).toBe(404);
    expect(relay.store.pending(bob.aci, 1)).toEqual([]);
  });

  it('closes sockets that do not authenticate or send garbage', async () => {
    const bad = await FrameClient.open(relay.wsUrl);
    bad.send({ type: 'auth', token: 'A'.repeat(43) });
    expect(await bad.closed()).toBe(CloseCode.Unauthorized);
    const bob = await register(relay.url, 'bob', await makeDevice());
    const garbage = await FrameClient.open(relay.wsUrl, bob.token);
    garbage.send('not json');
    expect(await garbage.closed()).toBe(CloseCode.BadFrame);
  });

  it('a newer connection of the same device replaces the older one', async () => {
    const bob = await register(relay.url, 'bob', await makeDevice());
    const first = await FrameClient.open(relay.wsUrl, bob.token);
    const second = await FrameClient.open(relay.wsUrl, bob.token);
    expect(await first.closed()).toBe(CloseCode.Replaced);
    second.close();
  });
});

describe('re-registration', () => {
  it('needs the recovery code; a new identity drops the old queue, the same identity keeps it', async () => {
    const alice = await register(relay.url, 'alice', await makeDevice());
    const bobDevice = await makeDevice();
    const bob = await register(relay.url, 'bob', bobDevice);
    const send = (text: string) =>
      call(relay.url, 'POST', '/v1/messages', {
        token: alice.token,
        json: { messages: [msg(bob.aci, text)] },
      });
    await send('before restore');
    expect(
      (
        await call(relay.url, 'POST', '/v1/accounts', {
          json: { name: 'bob', device: bobDevice.registration },
        })
      ).status,
    ).toBe(409);
    const wrong = await call(relay.url, 'POST', '/v1/accounts', {
      json: { name: 'bob', device: bobDevice.registration, recoveryCode: '0'.repeat(32) },
    });
    expect(wrong.status).toBe(403);

    const oldSocket = await FrameClient.open(relay.wsUrl, bob.token);
    await oldSocket.next((f) => f.type === 'queue-empty');
    // Restore: same identity key (from a backup) — the queue stays.
    const restored = await register(
      relay.url,
      'bob',
      await makeDevice({ identity: bobDevice.identity }),
      bob.recoveryCode,
    );
    expect(restored.queueDropped).toBe(false);
    expect(restored.aci).toBe(bob.aci); // the account keeps its ServiceId
    expect(await oldSocket.closed()).toBe(CloseCode.DeviceReplaced);
    expect((await call(relay.url, 'GET', '/v1/prekey-status', { token: bob.token })).status).toBe(401);
    expect(relay.store.pending(bob.aci, 1)).toHaveLength(1);
    // Re-install: a new identity key — the old queue cannot be decrypted any more and is dropped.
    const reinstalled = await register(relay.url, 'bob', await makeDevice(), bob.recoveryCode);
    expect(reinstalled.queueDropped).toBe(true);
    expect(reinstalled.aci).toBe(bob.aci);
    expect(relay.store.pending(bob.aci, 1)).toEqual([]);
  });
});

describe('backups', () => {
  it('stores the payload and the slot section separately; a password change replaces only the slots', async () => {
    const alice = await register(relay.url, 'alice', await makeDevice());
    const bob = await register(relay.url, 'bob', await makeDevice());
    const slots = b64(new Uint8Array([1, 2, 3]));
    const payload = b64(new Uint8Array(5000).fill(7));
    expect((await call(relay.url, 'GET', '/v1/backup/alice', { token: alice.token })).status).toBe(404);
    const digestOf = (bytes: Uint8Array) => b64(new Uint8Array(createHash('sha256').update(bytes).digest()));
    const ifSlotsDigest = digestOf(new Uint8Array([1, 2, 3]));
    expect(
      (
        await call(relay.url, 'PUT', '/v1/backup/slots', {
          token: alice.token,
          json: { slots, ifSlotsDigest },
        })
      ).status,
    ).toBe(404);
    expect(
      (await call(relay.url, 'PUT', '/v1/backup', { token: alice.token, json: { slots, payload } })).status,
    ).toBe(200);
    const newSlots = b64(new Uint8Array([9, 9]));
    // Compare-and-set: slots rewrapped from other slots than the stored ones are refused, unchanged.
    const stale = { slots: newSlots, ifSlotsDigest: digestOf(new Uint8Array([1, 2, 4])) };
    const refused = await call(relay.url, 'PUT', '/v1/backup/slots', { token: alice.token, json: stale });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: 'backup_changed' });
    expect((await call(relay.url, 'GET', '/v1/backup/alice', { token: alice.token })).body).toMatchObject({
      slots,
    });
    expect(
      (
        await call(relay.url, 'PUT', '/v1/backup/slots', {
          token: alice.token,
          json: { slots: newSlots, ifSlotsDigest },
        })
      ).status,
    ).toBe(200);
    const mine = await call(relay.url, 'GET', '/v1/backup/alice', { token: alice.token });
    expect(mine.body).toMatchObject({ slots: newSlots, payload });
    expect((await call(relay.url, 'GET', '/v1/backup/alice', { token: bob.token })).status).toBe(403);
    const byCode = await call(relay.url, 'GET', '/v1/backup/alice', {
      headers: { 'x-recovery-code': alice.recoveryCode! },
    });
    expect(byCode.body).toMatchObject({ slots: newSlots, payload });
    const wrongCode = await call(relay.url, 'GET', '/v1/backup/alice', {
      headers: { 'x-recovery-code': bob.recoveryCode! },
    });
    expect(wrongCode.status).toBe(403);
  });
});
