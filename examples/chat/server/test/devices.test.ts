import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call, makeDevice, register, type TestDevice } from './helpers.js';

// The device routes: the provisioning mailbox, one-time codes, linking, unlinking and the fan-out
// send. Every refused request gets its 4xx and leaves every table as it was.
let relay: Relay;
let alice: { aci: string; token: string };
let aliceDevice: TestDevice;
let bob: { aci: string; token: string };

function digest(): string {
  const h = createHash('sha256');
  for (const [table, rows] of Object.entries(relay.store.dump())) {
    h.update(table);
    for (const row of rows)
      for (const [k, v] of Object.entries(row as Record<string, unknown>))
        h.update(k)
          .update(v instanceof Uint8Array ? v : String(v))
          .update('\u0000');
  }
  return h.digest('hex');
}

beforeAll(async () => {
  relay = await startRelay({ logger: silentLogger });
  aliceDevice = await makeDevice();
  alice = await register(relay.url, 'alice', aliceDevice);
  bob = await register(relay.url, 'bob', await makeDevice());
});
afterAll(async () => {
  await relay.close();
});

it('hands an envelope from the existing device to the new one once, and links it as device 2 with a one-time code', async () => {
  const opened = await call(relay.url, 'POST', '/v1/provisioning', { json: {} });
  expect(opened.status).toBe(201);
  const address = String(opened.body['address']);
  expect(address).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect((await call(relay.url, 'GET', `/v1/provisioning/${address}`)).body).toEqual({ envelope: null });
  // Depositing needs a device token.
  expect(
    (
      await call(relay.url, 'PUT', `/v1/provisioning/${address}`, {
        json: { body: b64(new Uint8Array([1])) },
      })
    ).status,
  ).toBe(401);
  const envelope = b64(new Uint8Array([1, 2, 3, 4]));
  const put = await call(relay.url, 'PUT', `/v1/provisioning/${address}`, {
    token: alice.token,
    json: { body: envelope },
  });
  expect(put.status).toBe(200);
  const again = await call(relay.url, 'PUT', `/v1/provisioning/${address}`, {
    token: alice.token,
    json: { body: envelope },
  });
  expect(again.status).toBe(409);
  expect((await call(relay.url, 'GET', `/v1/provisioning/${address}`)).body).toEqual({ envelope });
  expect((await call(relay.url, 'GET', `/v1/provisioning/${address}`)).status).toBe(404);

  const code = String(
    (await call(relay.url, 'GET', '/v1/devices/provisioning-code', { token: alice.token })).body['code'],
  );
  const linked = await makeDevice({ identity: aliceDevice.identity });
  const link = await call(relay.url, 'POST', '/v1/devices/link', {
    json: { aci: alice.aci, provisioningCode: code, device: linked.registration },
  });
  expect(link.status).toBe(201);
  expect(link.body).toMatchObject({ aci: alice.aci, name: 'alice', deviceId: 2 });
  expect(relay.store.deviceIds(alice.aci)).toEqual([1, 2]);
  const reuse = await call(relay.url, 'POST', '/v1/devices/link', {
    json: {
      aci: alice.aci,
      provisioningCode: code,
      device: (await makeDevice({ identity: aliceDevice.identity })).registration,
    },
  });
  expect(reuse.status).toBe(403);
  const devices = await call(relay.url, 'GET', '/v1/devices', { token: String(link.body['token']) });
  expect(devices.body['deviceId']).toBe(2);
  expect((devices.body['devices'] as { deviceId: number }[]).map((d) => d.deviceId)).toEqual([1, 2]);
});

it('answers a fan-out send naming the wrong devices with 409 / 410 and queues nothing; the right one is queued', async () => {
  const body = b64(new Uint8Array([7]));
  const before = digest();
  const missing = await call(relay.url, 'PUT', `/v1/fanout/${alice.aci}`, {
    token: bob.token,
    json: { messages: [{ deviceId: 1, registrationId: 1234, kind: 'whisper', body }] },
  });
  expect(missing.status).toBe(409);
  expect(missing.body).toMatchObject({ missingDevices: [2], extraDevices: [] });
  const stale = await call(relay.url, 'PUT', `/v1/fanout/${alice.aci}`, {
    token: bob.token,
    json: {
      messages: [
        { deviceId: 1, registrationId: 1234, kind: 'whisper', body },
        { deviceId: 2, registrationId: 99, kind: 'whisper', body },
      ],
    },
  });
  expect(stale.status).toBe(410);
  expect(stale.body).toMatchObject({ staleDevices: [2] });
  expect(digest()).toBe(before);
  const ok = await call(relay.url, 'PUT', `/v1/fanout/${alice.aci}`, {
    token: bob.token,
    json: {
      messages: [
        { deviceId: 1, registrationId: 1234, kind: 'whisper', body },
        { deviceId: 2, registrationId: 1234, kind: 'prekey', body },
      ],
    },
  });
  expect(ok.status).toBe(200);
  expect(typeof ok.body['serverTimestamp']).toBe('number');
  expect(relay.store.pending(alice.aci, 2).map((e) => e.type)).toEqual(['prekey']);
});

it('a fan-out send repeated with its Idempotency-Key answers the first answer and queues nothing new', async () => {
  const body = b64(new Uint8Array([7]));
  const headers = { 'idempotency-key': 'fanout-0001-abcdef' };
  // Every current device of Alice's, as the relay lists them.
  const listed = await call(relay.url, 'GET', '/v1/devices', { token: alice.token });
  const devices = listed.body['devices'] as { deviceId: number; registrationId: number }[];
  const messages = devices.map((d) => ({
    deviceId: d.deviceId,
    registrationId: d.registrationId,
    kind: 'whisper',
    body,
  }));
  const queued = () => devices.map((d) => relay.store.pending(alice.aci, d.deviceId).length);
  const before = queued();
  const put = (json: unknown) =>
    call(relay.url, 'PUT', `/v1/fanout/${alice.aci}`, { token: bob.token, json, headers });
  const first = await put({ messages });
  expect(first.status).toBe(200);
  const again = await put({ messages });
  expect(again.status).toBe(200);
  expect(again.body['replayed']).toBe(true);
  expect([again.body['ids'], again.body['serverTimestamp']]).toEqual([
    first.body['ids'],
    first.body['serverTimestamp'],
  ]);
  expect(queued()).toEqual(before.map((n) => n + 1));
  // The same key for another send is refused, and nothing is queued.
  const other = await put({ messages: messages.map((m) => ({ ...m, body: b64(new Uint8Array([8])) })) });
  expect([other.status, other.body['error']]).toEqual([422, 'idempotency_key_reused']);
  expect(queued()).toEqual(before.map((n) => n + 1));
  // A malformed key is a 400.
  const badKey = await call(relay.url, 'PUT', `/v1/fanout/${alice.aci}`, {
    token: bob.token,
    json: { messages },
    headers: { 'idempotency-key': 'no spaces allowed' },
  });
  expect(badKey.status).toBe(400);
});

it('refuses malformed device requests with a 4xx and changes nothing', async () => {
  const before = digest();
  const body = b64(new Uint8Array([7]));
  const cases: [string, string, string, { token?: string; json?: unknown }, number][] = [
    ['fan-out without token', 'PUT', `/v1/fanout/${alice.aci}`, { json: { messages: [] } }, 401],
    [
      'fan-out to an unknown account',
      'PUT',
      '/v1/fanout/nobody',
      { token: bob.token, json: { messages: [] } },
      404,
    ],
    [
      'fan-out with a senderkey kind',
      'PUT',
      `/v1/fanout/${alice.aci}`,
      { token: bob.token, json: { messages: [{ deviceId: 1, registrationId: 1, kind: 'senderkey', body }] } },
      400,
    ],
    [
      'fan-out without registrationId',
      'PUT',
      `/v1/fanout/${alice.aci}`,
      { token: bob.token, json: { messages: [{ deviceId: 1, kind: 'whisper', body }] } },
      400,
    ],
    [
      'fan-out naming a device twice',
      'PUT',
      `/v1/fanout/${bob.aci}`,
      {
        token: alice.token,
        json: {
          messages: [
            { deviceId: 1, registrationId: 1234, kind: 'whisper', body },
            { deviceId: 1, registrationId: 1234, kind: 'whisper', body },
          ],
        },
      },
      400,
    ],
    [
      'fan-out with device id 0',
      'PUT',
      `/v1/fanout/${bob.aci}`,
      {
        token: alice.token,
        json: { messages: [{ deviceId: 0, registrationId: 1234, kind: 'whisper', body }] },
      },
      400,
    ],
    [
      'receipt that is not a PlaintextContent',
      'POST',
      '/v1/receipts',
      { token: alice.token, json: { to: bob.aci, deviceId: 1, body } },
      400,
    ],
    [
      'receipt too big',
      'POST',
      '/v1/receipts',
      { token: alice.token, json: { to: bob.aci, deviceId: 1, body: b64(new Uint8Array(2048).fill(0xc0)) } },
      413,
    ],
    [
      'receipt to an unknown device',
      'POST',
      '/v1/receipts',
      { token: alice.token, json: { to: bob.aci, deviceId: 9, body: b64(new Uint8Array([0xc0, 1])) } },
      404,
    ],
    ['unlink the primary', 'DELETE', '/v1/devices/1', { token: alice.token }, 403],
    ['unlink an unknown device', 'DELETE', '/v1/devices/9', { token: alice.token }, 404],
    ['unlink without token', 'DELETE', '/v1/devices/2', {}, 401],
    [
      'link with no device keys',
      'POST',
      '/v1/devices/link',
      { json: { aci: alice.aci, provisioningCode: 'A'.repeat(22), device: {} } },
      400,
    ],
    [
      'deposit to an unknown address',
      'PUT',
      `/v1/provisioning/${'A'.repeat(22)}`,
      { token: alice.token, json: { body } },
      404,
    ],
    ['collect a malformed address', 'GET', '/v1/provisioning/short', {}, 404],
    ['provisioning code without token', 'GET', '/v1/devices/provisioning-code', {}, 401],
  ];
  const got = [];
  for (const [what, method, path, opts, _status] of cases)
    got.push([what, (await call(relay.url, method, path, opts)).status]);
  expect(got).toEqual(cases.map(([what, , , , status]) => [what, status]));
  expect(digest()).toBe(before);
});

it('unlinking removes the device, its keys and its queue, and revokes its token', async () => {
  const code = String(
    (await call(relay.url, 'GET', '/v1/devices/provisioning-code', { token: alice.token })).body['code'],
  );
  const third = await call(relay.url, 'POST', '/v1/devices/link', {
    json: {
      aci: alice.aci,
      provisioningCode: code,
      device: (await makeDevice({ identity: aliceDevice.identity })).registration,
    },
  });
  expect(third.body['deviceId']).toBe(3);
  const token = String(third.body['token']);
  expect((await call(relay.url, 'DELETE', '/v1/devices/3', { token: alice.token })).status).toBe(200);
  expect(relay.store.deviceIds(alice.aci)).toEqual([1, 2]);
  expect(relay.store.preKeyCounts(alice.aci, 3)).toEqual({ preKeys: 0, kyberPreKeys: 0 });
  expect((await call(relay.url, 'GET', '/v1/devices', { token })).status).toBe(401);
});
