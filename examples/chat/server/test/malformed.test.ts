import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call, ecPreKeys, makeDevice, register, signedKem, type TestDevice } from './helpers.js';

// One relay with some state (two accounts, a queued message, a backup); every malformed or oversized
// request below must get its 4xx and leave every table exactly as it was.
let relay: Relay;
let alice: { token: string; recoveryCode?: string };
let bobDevice: TestDevice;
/** Bob's ServiceId, known once registered: paths say `{bob}` and get it at request time. */
let bobAci = '';
let snapshot: Record<string, string>;

/** Row count and a hash of every table: a failure names the table without diffing megabytes of rows. */
function digest(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [table, rows] of Object.entries(relay.store.dump())) {
    const h = createHash('sha256');
    for (const row of rows) {
      for (const [k, v] of Object.entries(row as Record<string, unknown>)) {
        h.update(k)
          .update(v instanceof Uint8Array ? v : String(v))
          .update('\u0000');
      }
    }
    out[table] = `${rows.length} rows ${h.digest('hex').slice(0, 16)}`;
  }
  return out;
}

beforeAll(async () => {
  relay = await startRelay({ logger: silentLogger, storeLimits: { maxPreKeys: 5, maxQueuedPerDevice: 2 } });
  alice = await register(relay.url, 'alice', await makeDevice());
  bobDevice = await makeDevice();
  bobAci = (await register(relay.url, 'bob', bobDevice)).aci;
  const queued = await call(relay.url, 'POST', '/v1/messages', {
    token: alice.token,
    json: { messages: [{ to: bobAci, deviceId: 1, kind: 'whisper', body: b64(new Uint8Array([1, 2, 3])) }] },
  });
  expect(queued.status).toBe(200);
  const backup = await call(relay.url, 'PUT', '/v1/backup', {
    token: alice.token,
    json: { slots: b64(new Uint8Array([1])), payload: b64(new Uint8Array([2])) },
  });
  expect(backup.status).toBe(200);
  snapshot = digest();
});
afterAll(async () => {
  await relay.close();
});

/**
 * Sends a GET with the target exactly as given (no URL normalisation) and returns the status; with
 * `upgrade`, as a WebSocket handshake (answered by the upgrade listener, not the request handler).
 */
function rawStatus(port: number, target: string, upgrade = false): Promise<number> {
  const headers = upgrade
    ? {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'sec-websocket-version': '13',
      }
    : {};
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'GET', path: target, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

type Req = {
  method: string;
  path: string;
  token?: boolean;
  json?: () => unknown | Promise<unknown>;
  raw?: string;
  headers?: Record<string, string>;
};

const reg =
  (patch: (d: Record<string, unknown>) => void, name = 'carol') =>
  async () => {
    const d = { ...(await makeDevice()).registration };
    patch(d);
    return { name, device: d };
  };
const env = (over: Record<string, unknown>) => ({
  messages: [{ to: bobAci, deviceId: 1, kind: 'whisper', body: b64(new Uint8Array([9])), ...over }],
});
const big = (n: number) => b64(new Uint8Array(n));

const cases: [string, Req, number, string][] = [
  [
    'body is not JSON',
    {
      method: 'POST',
      path: '/v1/accounts',
      raw: '{"name":',
      headers: { 'content-type': 'application/json' },
    },
    400,
    'invalid_json',
  ],
  [
    'body is not application/json',
    { method: 'POST', path: '/v1/accounts', raw: 'name=x', headers: { 'content-type': 'text/plain' } },
    415,
    'unsupported_media_type',
  ],
  ['body is an array', { method: 'POST', path: '/v1/accounts', json: () => [] }, 400, 'invalid_request'],
  [
    'name with capitals',
    { method: 'POST', path: '/v1/accounts', json: reg(() => {}, 'Carol') },
    400,
    'invalid_request',
  ],
  [
    'name too long',
    { method: 'POST', path: '/v1/accounts', json: reg(() => {}, 'c'.repeat(33)) },
    400,
    'invalid_request',
  ],
  [
    'unknown field',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['extra'] = 1;
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'identity key too short',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['identityKey'] = big(32);
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'identity key of unknown type',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['identityKey'] = b64(new Uint8Array(33).fill(6));
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'identity key not base64',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['identityKey'] = '!!!!';
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'registration id negative',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['registrationId'] = -1;
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'key id not an integer',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['preKeys'] = [{ keyId: 1.5, publicKey: b64(new Uint8Array(33).fill(5)) }];
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'repeated prekey id',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        const k = (d['preKeys'] as unknown[])[0];
        d['preKeys'] = [k, k];
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'Kyber key of the wrong length',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['lastResortKyberPreKey'] = { keyId: 1, publicKey: big(1568), signature: big(64) };
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'Kyber signature forged',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['kyberPreKeys'] = [{ ...(d['kyberPreKeys'] as Record<string, unknown>[])[0], signature: big(64) }];
      }),
    },
    400,
    'bad_signature',
  ],
  [
    'missing last-resort Kyber key',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        delete d['lastResortKyberPreKey'];
      }),
    },
    400,
    'invalid_request',
  ],
  [
    'too many prekeys in one upload',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['preKeys'] = Array.from({ length: 101 }, (_, i) => ({
          keyId: i,
          publicKey: b64(new Uint8Array(33).fill(5)),
        }));
      }),
    },
    413,
    'too_many_items',
  ],
  [
    'body larger than the limit',
    {
      method: 'POST',
      path: '/v1/accounts',
      raw: JSON.stringify({ name: 'carol', pad: 'x'.repeat(600 * 1024) }),
      headers: { 'content-type': 'application/json' },
    },
    413,
    'too_large',
  ],
  [
    'existing name without recovery code',
    { method: 'POST', path: '/v1/accounts', json: reg(() => {}, 'bob') },
    409,
    'name_taken',
  ],
  [
    'existing name with a wrong recovery code',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: async () => ({ ...(await reg(() => {}, 'bob')()), recoveryCode: 'f'.repeat(32) }),
    },
    403,
    'wrong_recovery_code',
  ],
  [
    'key upload without a token',
    { method: 'PUT', path: '/v1/keys', json: async () => ({ preKeys: await ecPreKeys(1) }) },
    401,
    'unauthorized',
  ],
  [
    'key upload with a made-up token',
    {
      method: 'PUT',
      path: '/v1/keys',
      json: async () => ({ preKeys: await ecPreKeys(1) }),
      headers: { authorization: `Bearer ${'A'.repeat(43)}` },
    },
    401,
    'unauthorized',
  ],
  [
    'Kyber prekey signed by someone else',
    {
      method: 'PUT',
      path: '/v1/keys',
      token: true,
      json: () => ({ kyberPreKeys: [signedKem(bobDevice.identity)] }),
    },
    400,
    'bad_signature',
  ],
  [
    'more prekeys than a device may store',
    { method: 'PUT', path: '/v1/keys', token: true, json: async () => ({ preKeys: await ecPreKeys(4) }) },
    413,
    'prekey_limit',
  ],
  [
    'message list empty',
    { method: 'POST', path: '/v1/messages', token: true, json: () => ({ messages: [] }) },
    400,
    'invalid_request',
  ],
  [
    'message of unknown kind',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ kind: 'plaintext' }) },
    400,
    'invalid_request',
  ],
  [
    'message with an empty body',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: '' }) },
    400,
    'invalid_request',
  ],
  [
    'message body over 64 KiB',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: big(64 * 1024 + 1) }) },
    413,
    'too_large',
  ],
  [
    'device id 0',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ deviceId: 0 }) },
    400,
    'invalid_request',
  ],
  [
    'device id 128',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ deviceId: 128 }) },
    400,
    'invalid_request',
  ],
  [
    'too many messages in one request',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      json: () => ({ messages: Array.from({ length: 201 }, () => env({}).messages[0]) }),
    },
    413,
    'too_many_items',
  ],
  [
    'unknown recipient',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      json: () => env({ to: '00000000-0000-4000-8000-000000000000' }),
    },
    404,
    'unknown_recipient',
  ],
  [
    'recipient named by display name instead of ServiceId',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ to: 'bob' }) },
    400,
    'invalid_request',
  ],
  [
    'recipient ServiceId in upper case',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ to: bobAci.toUpperCase() }) },
    400,
    'invalid_request',
  ],
  [
    "registration under a new name with another account's identity key",
    {
      method: 'POST',
      path: '/v1/accounts',
      json: async () => ({
        name: 'carol',
        device: (await makeDevice({ identity: bobDevice.identity })).registration,
      }),
    },
    409,
    'identity_key_taken',
  ],
  ['bundle by display name', { method: 'GET', path: '/v1/keys/bob', token: true }, 404, 'not_found'],
  [
    'directory lookup of an unknown name',
    { method: 'GET', path: '/v1/accounts/name/nobody', token: true },
    404,
    'not_found',
  ],
  [
    'directory lookup of a malformed ServiceId',
    { method: 'GET', path: '/v1/accounts/aci/not-a-uuid', token: true },
    404,
    'not_found',
  ],
  ['directory lookup without a token', { method: 'GET', path: '/v1/accounts/name/bob' }, 401, 'unauthorized'],
  [
    'recipient queue full (second of a batch)',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      json: () => ({ messages: [env({}).messages[0], env({}).messages[0]] }),
    },
    429,
    'queue_full',
  ],
  [
    'ack of an unknown envelope',
    { method: 'DELETE', path: '/v1/messages/999', token: true },
    404,
    'not_found',
  ],
  ['ack of a non-numeric id', { method: 'DELETE', path: '/v1/messages/abc', token: true }, 404, 'not_found'],
  ['bundle for an invalid name', { method: 'GET', path: '/v1/keys/B%C3%B6b', token: true }, 404, 'not_found'],
  [
    'bundle for a device that does not exist',
    { method: 'GET', path: '/v1/keys/{bob}/2', token: true },
    404,
    'not_found',
  ],
  ['bundle for device 0', { method: 'GET', path: '/v1/keys/{bob}/0', token: true }, 404, 'not_found'],
  [
    'backup slots too large',
    {
      method: 'PUT',
      path: '/v1/backup',
      token: true,
      json: () => ({ slots: big(64 * 1024 + 1), payload: big(10) }),
    },
    413,
    'too_large',
  ],
  [
    'backup payload empty',
    { method: 'PUT', path: '/v1/backup', token: true, json: () => ({ slots: big(10), payload: '' }) },
    400,
    'invalid_request',
  ],
  [
    'backup slots missing',
    { method: 'PUT', path: '/v1/backup/slots', token: true, json: () => ({}) },
    400,
    'invalid_request',
  ],
  [
    'backup read with a malformed recovery code',
    { method: 'GET', path: '/v1/backup/alice', headers: { 'x-recovery-code': 'zz' } },
    403,
    'wrong_recovery_code',
  ],
  ['wrong method', { method: 'PATCH', path: '/v1/messages', token: true }, 405, 'method_not_allowed'],
  ['unknown endpoint', { method: 'GET', path: '/v1/secrets', token: true }, 404, 'not_found'],
];

// Hostile or broken input of every kind: whatever the exact code, the answer is a 4xx (never a 500)
// with an error code, and nothing changes.
const deep = '['.repeat(100_000) + ']'.repeat(100_000);
const neverServerErrors: [string, Req][] = [
  ['bad percent-encoding in a bundle path', { method: 'GET', path: '/v1/keys/%E0%A4%A', token: true }],
  ['lone percent sign in a bundle path', { method: 'GET', path: '/v1/keys/%', token: true }],
  ['percent-encoded NUL in a bundle path', { method: 'GET', path: '/v1/keys/{bob}%00', token: true }],
  ['bad percent-encoding in a backup path', { method: 'GET', path: '/v1/backup/%ZZ', token: true }],
  [
    'bad percent-encoding in a sealed path',
    { method: 'POST', path: '/v1/sealed/%C3%28', json: () => ({ messages: [] }) },
  ],
  ['bad percent-encoding outside /v1', { method: 'GET', path: '/%E0%A4%A' }],
  ['unknown route under /v1', { method: 'GET', path: '/v1/accounts/{bob}/devices', token: true }],
  [
    'bad percent-encoding in a name lookup',
    { method: 'GET', path: '/v1/accounts/name/%E0%A4%A', token: true },
  ],
  ['bad percent-encoding in a ServiceId lookup', { method: 'GET', path: '/v1/accounts/aci/%', token: true }],
  ['bare /v1', { method: 'GET', path: '/v1' }],
  ['root', { method: 'GET', path: '/' }],
  ['dot segments', { method: 'GET', path: '/v1/keys/../../etc/passwd', token: true }],
  ['wrong method on a known route', { method: 'DELETE', path: '/v1/keys', token: true }],
  [
    'messages body is not JSON',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: '{"messages":[',
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages body is JSON null',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: 'null',
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages body is a JSON string',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: '"hi"',
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages body nested 100,000 deep',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: deep,
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages body invalid UTF-8',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: '{"messages":"\udc00"}',
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages body over the size limit',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      raw: JSON.stringify({ messages: [], pad: 'x'.repeat(5 * 1024 * 1024) }),
      headers: { 'content-type': 'application/json' },
    },
  ],
  [
    'messages is an object',
    { method: 'POST', path: '/v1/messages', token: true, json: () => ({ messages: {} }) },
  ],
  [
    'message is a number',
    { method: 'POST', path: '/v1/messages', token: true, json: () => ({ messages: [7] }) },
  ],
  [
    'recipient is a number',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ to: 7 }) },
  ],
  [
    'recipient is an object',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ to: {} }) },
  ],
  [
    'device id is a string',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ deviceId: '1' }) },
  ],
  [
    'device id is huge',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ deviceId: 2 ** 53 }) },
  ],
  [
    'kind is an array',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ kind: ['whisper'] }) },
  ],
  ['body is a number', { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: 12 }) }],
  [
    'body is unpadded base64',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: 'AQID' + 'A' }) },
  ],
  [
    'body has spaces',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: 'AQ ID' }) },
  ],
  [
    'body is base64url',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: '-_-_' }) },
  ],
  [
    'body is only padding',
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ body: '====' }) },
  ],
  [
    'malformed Idempotency-Key',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      json: () => env({}),
      headers: { 'idempotency-key': 'a b' },
    },
  ],
  [
    'Idempotency-Key too long',
    {
      method: 'POST',
      path: '/v1/messages',
      token: true,
      json: () => env({}),
      headers: { 'idempotency-key': 'k'.repeat(65) },
    },
  ],
  [
    'registration with a numeric name',
    { method: 'POST', path: '/v1/accounts', json: reg(() => {}, 7 as never) },
  ],
  [
    'registration device is an array',
    { method: 'POST', path: '/v1/accounts', json: () => ({ name: 'x', device: [] }) },
  ],
  [
    'registration prekeys is a string',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['preKeys'] = 'many';
      }),
    },
  ],
  [
    'signature not base64',
    {
      method: 'POST',
      path: '/v1/accounts',
      json: reg((d) => {
        d['signedPreKey'] = { ...(d['signedPreKey'] as Record<string, unknown>), signature: '****' };
      }),
    },
  ],
  ['key upload is an array', { method: 'PUT', path: '/v1/keys', token: true, json: () => [] }],
  [
    'backup slots is a number',
    { method: 'PUT', path: '/v1/backup', token: true, json: () => ({ slots: 1, payload: 2 }) },
  ],
  [
    'access key of the wrong size',
    { method: 'PUT', path: '/v1/access-key', token: true, json: () => ({ accessKey: big(15) }) },
  ],
  [
    'authorization without Bearer',
    { method: 'GET', path: '/v1/accounts', headers: { authorization: 'Basic eDp5' } },
  ],
  ['ack id beyond 2^53', { method: 'DELETE', path: '/v1/messages/99999999999999999999', token: true }],
];

describe('malformed and oversized requests get a clear 4xx and change nothing', () => {
  it.each(cases)('%s', async (_name, req, status, code) => {
    const json = req.json ? await req.json() : undefined;
    const r = await call(relay.url, req.method, req.path.replace('{bob}', bobAci), {
      ...(req.token ? { token: alice.token } : {}),
      ...(json !== undefined ? { json } : {}),
      ...(req.raw !== undefined ? { raw: req.raw } : {}),
      ...(req.headers ? { headers: req.headers } : {}),
    });
    expect(r.status).toBe(status);
    expect(r.body['error']).toBe(code);
    expect(typeof r.body['message']).toBe('string');
    expect(digest()).toEqual(snapshot);
  });

  it.each(neverServerErrors)('%s: 4xx, never 500', async (_name, req) => {
    const json = req.json ? await req.json() : undefined;
    const r = await call(relay.url, req.method, req.path.replace('{bob}', bobAci), {
      ...(req.token ? { token: alice.token } : {}),
      ...(json !== undefined ? { json } : {}),
      ...(req.raw !== undefined ? { raw: req.raw } : {}),
      ...(req.headers ? { headers: req.headers } : {}),
    });
    expect(r.status).toBeGreaterThanOrEqual(400);
    expect(r.status).toBeLessThan(500);
    expect(typeof r.body['error']).toBe('string');
    expect(digest()).toEqual(snapshot);
  });

  it('raw request targets that fetch would normalise away are 4xx too, as requests and as WebSocket handshakes', async () => {
    const targets = [
      'http://[',
      'http://[::1',
      '/v1/keys/%E0%A4%A',
      '/v1/backup/%',
      '/v1/sealed/%FF',
      '/v1/accounts/aci/%C0%80',
      '*',
      '/v1//keys//{bob}',
      '/%2e%2e/%2e%2e',
    ];
    for (const target of targets) {
      for (const upgrade of [false, true]) {
        const status = await rawStatus(relay.port, target.replace('{bob}', bobAci), upgrade);
        expect(status, `${target} upgrade=${upgrade}`).toBeGreaterThanOrEqual(400);
        expect(status, `${target} upgrade=${upgrade}`).toBeLessThan(500);
      }
    }
    expect(digest()).toEqual(snapshot);
  });

  it('keeps serving after all of them', async () => {
    const r = await call(relay.url, 'GET', '/v1/prekey-status', { token: alice.token });
    expect(r.status).toBe(200);
  });
});
