import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PublicKey } from '@e2ee-kit/core';
import { SenderCertificate } from '@e2ee-kit/sealed-sender';
import { afterEach, describe, expect, it } from 'vitest';
import { deriveAccessKey } from '../../client/src/sealed.js';
import { type Relay, SENDER_CERTIFICATE_LIFETIME_MS, silentLogger, startRelay } from '../src/index.js';
import { WindowLimiter } from '../src/rate-limit.js';
import { b64, call, makeDevice, register } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});
async function relayWith(options: Parameters<typeof startRelay>[0] = {}) {
  const r = await startRelay({ logger: silentLogger, ...options });
  relays.push(r);
  return r;
}

const envelopeCount = (r: Relay) =>
  (r.store.db.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number }).n;
const sealedBody = (text = 'sealed bytes') => ({
  messages: [{ deviceId: 1, body: b64(new TextEncoder().encode(text)) }],
});

describe('access keys', () => {
  it('derive as libsignal ProfileKey.deriveAccessKey does', () => {
    // Produced by @signalapp/libsignal-client 0.103.0 (ProfileKey.deriveAccessKey) for profile key 02×32.
    expect(Buffer.from(deriveAccessKey(new Uint8Array(32).fill(2))).toString('hex')).toBe(
      '5a723acee52c5ea02b92a3a360c09595',
    );
    expect(() => deriveAccessKey(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('sender certificates', () => {
  it('are issued to an authenticated device for its own ServiceId, device and identity key, for 24 h', async () => {
    const now = 1_800_000_000_000;
    const relay = await relayWith({ now: () => now });
    const device = await makeDevice();
    const alice = await register(relay.url, 'alice', device);
    expect((await call(relay.url, 'GET', '/v1/certificate')).status).toBe(401);
    const r = await call(relay.url, 'GET', '/v1/certificate', { token: alice.token });
    expect(r.status).toBe(200);
    const root = PublicKey.deserialize(new Uint8Array(Buffer.from(r.body['trustRoot'] as string, 'base64')));
    const pinned = await call(relay.url, 'GET', '/v1/trust-root');
    expect(pinned.body['trustRoot']).toBe(r.body['trustRoot']);
    const cert = SenderCertificate.deserialize(
      new Uint8Array(Buffer.from(r.body['certificate'] as string, 'base64')),
    );
    expect(cert.senderUuid).toBe(alice.aci);
    expect(cert.deviceId).toBe(1);
    expect(cert.identityKey.equals(device.identity.publicKey)).toBe(true);
    expect(Number(cert.expiresAt)).toBe(now + SENDER_CERTIFICATE_LIFETIME_MS);
    expect(await cert.check(root, now)).toEqual({ valid: true });
    expect(await cert.check(root, now + SENDER_CERTIFICATE_LIFETIME_MS + 1)).toMatchObject({
      valid: false,
      reason: 'expired',
    });
  });

  it('chain to a trust root generated once and kept in the database across restarts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-sealed-'));
    try {
      const dbPath = join(dir, 'relay.db');
      const first = await relayWith({ dbPath });
      const a = (await call(first.url, 'GET', '/v1/trust-root')).body['trustRoot'];
      await first.close();
      const second = await relayWith({ dbPath });
      expect((await call(second.url, 'GET', '/v1/trust-root')).body['trustRoot']).toBe(a);
      const other = await relayWith();
      expect((await call(other.url, 'GET', '/v1/trust-root')).body['trustRoot']).not.toBe(a);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('unidentified delivery', () => {
  it('queues a sealed envelope with no sender only under the recipient’s access key', async () => {
    const relay = await relayWith();
    const bob = await register(relay.url, 'bob', await makeDevice());
    const key = deriveAccessKey(new Uint8Array(32).fill(7));
    const post = (headers: Record<string, string>, to = bob.aci) =>
      call(relay.url, 'POST', `/v1/sealed/${to}`, { json: sealedBody(), headers });
    // No key registered yet: refused like a wrong key.
    expect((await post({ 'unidentified-access-key': b64(key) })).status).toBe(401);
    expect((await call(relay.url, 'PUT', '/v1/access-key', { json: { accessKey: b64(key) } })).status).toBe(
      401,
    );
    expect(
      (
        await call(relay.url, 'PUT', '/v1/access-key', {
          token: bob.token,
          json: { accessKey: b64(key.slice(0, 15)) },
        })
      ).status,
    ).toBe(400);
    expect(
      (await call(relay.url, 'PUT', '/v1/access-key', { token: bob.token, json: { accessKey: b64(key) } }))
        .status,
    ).toBe(200);
    const wrong = key.slice();
    wrong[15]! ^= 1;
    for (const headers of [
      {},
      { 'unidentified-access-key': b64(wrong) },
      { 'unidentified-access-key': b64(key.slice(0, 15)) },
      { 'unidentified-access-key': 'not base64 at all!!!!!!!' },
      { 'unidentified-access-key': `${b64(key)}AAAA` },
    ]) {
      const r = await post(headers);
      expect(r.status).toBe(401);
      expect(envelopeCount(relay)).toBe(0);
    }
    expect(
      (await post({ 'unidentified-access-key': b64(key) }, '00000000-0000-4000-8000-000000000000')).status,
    ).toBe(401);
    const ok = await post({ 'unidentified-access-key': b64(key) });
    expect(ok.status).toBe(200);
    const row = relay.store.db.prepare('SELECT from_aci, from_device, type FROM envelopes').get();
    expect(row).toEqual({ from_aci: '', from_device: 0, type: 'sealed' });
    const fetched = await call(relay.url, 'GET', '/v1/messages', { token: bob.token });
    const [env] = fetched.body['envelopes'] as Record<string, unknown>[];
    expect(Object.keys(env!).sort()).toEqual(['body', 'id', 'kind', 'serverTimestamp']);
    expect(env!['kind']).toBe('sealed');
  });

  it('answers a malformed sealed submission with its 4xx and stores nothing, even under the right key', async () => {
    const relay = await relayWith({ limits: { maxEnvelopeBody: 64, maxMessagesPerRequest: 2 } });
    const bob = await register(relay.url, 'bob', await makeDevice());
    const key = deriveAccessKey(new Uint8Array(32).fill(5));
    await call(relay.url, 'PUT', '/v1/access-key', { token: bob.token, json: { accessKey: b64(key) } });
    const headers = { 'unidentified-access-key': b64(key) };
    const one = (m: unknown) => ({ messages: [m] });
    const cases: [unknown, number][] = [
      [{}, 400],
      [{ messages: [] }, 400],
      [one({ deviceId: 1 }), 400],
      [one({ deviceId: 1, body: 'AAAA', from: 'alice' }), 400], // no field may name a sender
      [one({ deviceId: 0, body: 'AAAA' }), 400],
      [one({ deviceId: 1, body: 'not base64' }), 400],
      [one({ deviceId: 1, body: b64(new Uint8Array(65)) }), 413],
      [{ messages: [1, 2, 3].map(() => ({ deviceId: 1, body: 'AAAA' })) }, 413],
      [one({ deviceId: 2, body: 'AAAA' }), 404], // bob has no device 2
    ];
    for (const [json, status] of cases) {
      const r = await call(relay.url, 'POST', `/v1/sealed/${bob.aci}`, { json, headers });
      expect([JSON.stringify(json).slice(0, 60), r.status]).toEqual([
        JSON.stringify(json).slice(0, 60),
        status,
      ]);
      expect(envelopeCount(relay)).toBe(0);
    }
    const text = await call(relay.url, 'POST', `/v1/sealed/${bob.aci}`, {
      raw: '{',
      headers: { ...headers, 'content-type': 'application/json' },
    });
    expect(text.status).toBe(400);
    expect(envelopeCount(relay)).toBe(0);
  });

  it('is rate-limited per recipient, failed guesses included', async () => {
    let now = 1_000_000;
    const relay = await relayWith({ now: () => now, sealedLimits: { perRecipient: 3, windowMs: 60_000 } });
    const bob = await register(relay.url, 'bob', await makeDevice());
    const carol = await register(relay.url, 'carol', await makeDevice());
    const key = deriveAccessKey(new Uint8Array(32).fill(9));
    for (const t of [bob.token, carol.token])
      await call(relay.url, 'PUT', '/v1/access-key', { token: t, json: { accessKey: b64(key) } });
    const post = (to: string, k: Uint8Array) =>
      call(relay.url, 'POST', `/v1/sealed/${to}`, {
        json: sealedBody(),
        headers: { 'unidentified-access-key': b64(k) },
      });
    expect((await post(bob.aci, new Uint8Array(16))).status).toBe(401);
    expect((await post(bob.aci, key)).status).toBe(200);
    expect((await post(bob.aci, key)).status).toBe(200);
    const limited = await post(bob.aci, key);
    expect(limited.status).toBe(429);
    expect(envelopeCount(relay)).toBe(2);
    expect((await post(carol.aci, key)).status).toBe(200); // another recipient's window
    now += 60_000;
    expect((await post(bob.aci, key)).status).toBe(200);
  });

  it('keeps a bounded number of recipient windows', () => {
    const limiter = new WindowLimiter({ count: 1, windowMs: 1000 }, 2);
    expect(limiter.take('a', 0)).toBe(true);
    expect(limiter.take('a', 0)).toBe(false);
    expect(limiter.take('b', 0)).toBe(true);
    expect(limiter.take('c', 0)).toBe(true); // evicts 'a', the oldest
    expect(limiter.take('a', 0)).toBe(true);
  });
});
