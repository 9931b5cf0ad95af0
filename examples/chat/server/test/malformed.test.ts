import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call, ecPreKeys, makeDevice, register, signedKem, type TestDevice } from './helpers.js';

// One relay with some state (two accounts, a queued message, a backup); every malformed or oversized
// request below must get its 4xx and leave every table exactly as it was.
let relay: Relay;
let alice: { token: string; recoveryCode?: string };
let bobDevice: TestDevice;
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
  await register(relay.url, 'bob', bobDevice);
  const queued = await call(relay.url, 'POST', '/v1/messages', {
    token: alice.token,
    json: { messages: [{ to: 'bob', deviceId: 1, kind: 'whisper', body: b64(new Uint8Array([1, 2, 3])) }] },
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
  messages: [{ to: 'bob', deviceId: 1, kind: 'whisper', body: b64(new Uint8Array([9])), ...over }],
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
    { method: 'POST', path: '/v1/messages', token: true, json: () => env({ to: 'nobody' }) },
    404,
    'unknown_recipient',
  ],
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
    { method: 'GET', path: '/v1/keys/bob/2', token: true },
    404,
    'not_found',
  ],
  ['bundle for device 0', { method: 'GET', path: '/v1/keys/bob/0', token: true }, 404, 'not_found'],
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

describe('malformed and oversized requests get a clear 4xx and change nothing', () => {
  it.each(cases)('%s', async (_name, req, status, code) => {
    const json = req.json ? await req.json() : undefined;
    const r = await call(relay.url, req.method, req.path, {
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

  it('keeps serving after all of them', async () => {
    const r = await call(relay.url, 'GET', '/v1/prekey-status', { token: alice.token });
    expect(r.status).toBe(200);
  });
});
