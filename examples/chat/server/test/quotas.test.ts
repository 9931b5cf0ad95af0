/**
 * Quotas and rate limits: one account cannot fill another's queue, drain its one-time prekeys or
 * get a replayed submission queued twice. Every loop is bounded; the relay's clock is injected, so
 * windows pass without waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RelayApi } from '../../client/src/index.js';
import { type Relay, type RelayOptions, silentLogger, startRelay } from '../src/index.js';
import { b64, call, makeDevice, register } from './helpers.js';

let relay: Relay | undefined;
let now = 1_000_000;
afterEach(async () => {
  await relay?.close();
  relay = undefined;
});

async function start(options: RelayOptions) {
  now = 1_000_000;
  relay = await startRelay({ logger: silentLogger, now: () => now, ...options });
  return relay;
}

const one = (to: string, text = 'x') => ({
  messages: [{ to, deviceId: 1, kind: 'whisper', body: b64(new TextEncoder().encode(text)) }],
});

describe('per-sender queue share and per-recipient cap', () => {
  it('a flooding account gets 429 sender_quota while another account still reaches the same recipient', async () => {
    const r = await start({ storeLimits: { maxQueuedPerDevice: 25, maxQueuedPerSender: 10 } });
    const bob = await register(r.url, 'bob', await makeDevice());
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const alice = await register(r.url, 'alice', await makeDevice());
    const statuses: number[] = [];
    let refusal: Record<string, unknown> = {};
    for (let i = 0; i < 30; i++) {
      const res = await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(bob.aci) });
      statuses.push(res.status);
      if (res.status !== 200) refusal = res.body;
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.slice(10).every((s) => s === 429)).toBe(true);
    expect(refusal['error']).toBe('sender_quota');
    const fromAlice = await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci) });
    expect(fromAlice.status).toBe(200);
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(11);
    // The recipient's cap stays: two more senders fill it (10 + 1 + 10 + 4 = 25), then queue_full.
    const carol = await register(r.url, 'carol', await makeDevice());
    const dave = await register(r.url, 'dave', await makeDevice());
    for (let i = 0; i < 10; i++) {
      expect(
        (await call(r.url, 'POST', '/v1/messages', { token: carol.token, json: one(bob.aci) })).status,
      ).toBe(200);
    }
    for (let i = 0; i < 4; i++) {
      expect(
        (await call(r.url, 'POST', '/v1/messages', { token: dave.token, json: one(bob.aci) })).status,
      ).toBe(200);
    }
    const full = await call(r.url, 'POST', '/v1/messages', { token: dave.token, json: one(bob.aci) });
    expect([full.status, full.body['error']]).toEqual([429, 'queue_full']);
    // Bob fetching and acknowledging frees the flooder's share again.
    for (const e of r.store.pending(bob.aci, 1, 0, 100)) r.store.ack(bob.aci, 1, e.id);
    expect(
      (await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(bob.aci) })).status,
    ).toBe(200);
  });

  it('limits how many envelopes one account submits per window, whoever the recipients are', async () => {
    const r = await start({ limits: { sendRate: { count: 5, windowMs: 60_000 } } });
    const bob = await register(r.url, 'bob', await makeDevice());
    const carol = await register(r.url, 'carol', await makeDevice());
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const alice = await register(r.url, 'alice', await makeDevice());
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      const to = i % 2 === 0 ? bob.aci : carol.aci;
      statuses.push(
        (await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(to) })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    const limited = await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(bob.aci) });
    expect(limited.body['error']).toBe('rate_limited');
    expect(limited.body['retryAfterSeconds']).toBe(60);
    expect(limited.headers.get('retry-after')).toBe('60');
    // Another account is not held up by mallory's window.
    expect(
      (await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci) })).status,
    ).toBe(200);
    // A batch larger than what is left of the window is refused whole.
    now += 60_000;
    const batch = { messages: Array.from({ length: 6 }, () => one(bob.aci).messages[0]) };
    const before = r.store.pending(bob.aci, 1, 0, 100).length;
    expect((await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: batch })).status).toBe(
      429,
    );
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(before);
    expect(
      (await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(bob.aci) })).status,
    ).toBe(200);
  });
});

describe('bundle fetches', () => {
  const fetchBundle = async (r: Relay, token: string, aci: string) => {
    const res = await call(r.url, 'GET', `/v1/keys/${aci}`, { token });
    const d = res.status === 200 ? (res.body['devices'] as Record<string, unknown>[])[0] : undefined;
    return {
      status: res.status,
      error: res.body['error'],
      preKey: d ? d['preKey'] !== null : undefined,
      lastResort: d ? (d['kyberPreKey'] as { lastResort: boolean }).lastResort : undefined,
    };
  };

  it('one requester cannot drain a device: past its share, bundles carry only the last-resort keys', async () => {
    const r = await start({
      limits: {
        bundleRate: { count: 10, windowMs: 3_600_000 },
        oneTimeKeyRate: { count: 3, windowMs: 3_600_000 },
        oneTimeKeyPairRate: { count: 100, windowMs: 3_600_000 },
      },
    });
    const bob = await register(r.url, 'bob', await makeDevice({ preKeys: 20, kyberPreKeys: 20 }));
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const alice = await register(r.url, 'alice', await makeDevice());
    const seen = [];
    for (let i = 0; i < 12; i++) seen.push(await fetchBundle(r, mallory.token, bob.aci));
    expect(seen.slice(0, 3).every((b) => b.status === 200 && b.preKey && !b.lastResort)).toBe(true);
    expect(seen.slice(3, 10).every((b) => b.status === 200 && !b.preKey && b.lastResort)).toBe(true);
    expect(seen.slice(10).map((b) => [b.status, b.error])).toEqual([
      [429, 'rate_limited'],
      [429, 'rate_limited'],
    ]);
    const status = await call(r.url, 'GET', '/v1/prekey-status', { token: bob.token });
    expect(status.body).toMatchObject({ preKeys: 17, kyberPreKeys: 17 });
    // Another requester still gets a bundle it can start a session with (and is not rate limited).
    expect(await fetchBundle(r, alice.token, bob.aci)).toEqual({
      status: 200,
      error: undefined,
      preKey: false,
      lastResort: true,
    });
    // The next window hands out one-time keys again.
    now += 3_600_000;
    expect(await fetchBundle(r, alice.token, bob.aci)).toMatchObject({
      status: 200,
      preKey: true,
      lastResort: false,
    });
  });
});

describe('with the default limits', () => {
  const fetchOneTime = async (r: Relay, token: string, aci: string) => {
    const res = await call(r.url, 'GET', `/v1/keys/${aci}`, { token });
    expect(res.status).toBe(200);
    return (res.body['devices'] as Record<string, unknown>[])[0]!['preKey'] !== null;
  };

  it("ten fetches by one account take two of a device's one-time prekeys, not ten", async () => {
    const r = await start({});
    const bob = await register(r.url, 'bob', await makeDevice({ preKeys: 20, kyberPreKeys: 20 }));
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const got = [];
    for (let i = 0; i < 10; i++) got.push(await fetchOneTime(r, mallory.token, bob.aci));
    expect(got).toEqual([true, true, false, false, false, false, false, false, false, false]);
    const status = await call(r.url, 'GET', '/v1/prekey-status', { token: bob.token });
    expect(status.body).toMatchObject({ preKeys: 18, kyberPreKeys: 18 });
    // A crowd of requesters is capped per device too: ten one-time handouts an hour in all.
    let handedOut = 2;
    for (let i = 0; i < 6; i++) {
      const other = await register(r.url, `crowd-${i}`, await makeDevice());
      for (let j = 0; j < 2; j++) if (await fetchOneTime(r, other.token, bob.aci)) handedOut++;
    }
    expect(handedOut).toBe(10);
  });

  it('one account fills only its share of a queue (1,000 of 10,000) and gets 429 sender_quota', async () => {
    const r = await start({});
    const bob = await register(r.url, 'bob', await makeDevice());
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const alice = await register(r.url, 'alice', await makeDevice());
    const batch = { messages: Array.from({ length: 200 }, () => one(bob.aci).messages[0]) };
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: batch })).status,
      );
    }
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    expect(
      (await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci) })).status,
    ).toBe(200);
  });
});

describe('Idempotency-Key on POST /v1/messages', () => {
  it('a replay answers the first answer and queues nothing new; a reused key with another body is 422', async () => {
    const r = await start({});
    const bob = await register(r.url, 'bob', await makeDevice());
    const alice = await register(r.url, 'alice', await makeDevice());
    const mallory = await register(r.url, 'mallory', await makeDevice());
    const headers = { 'idempotency-key': 'send-0001-abcdef' };
    const first = await call(r.url, 'POST', '/v1/messages', {
      token: alice.token,
      json: one(bob.aci),
      headers,
    });
    expect(first.status).toBe(200);
    for (let i = 0; i < 3; i++) {
      const again = await call(r.url, 'POST', '/v1/messages', {
        token: alice.token,
        json: one(bob.aci),
        headers,
      });
      expect(again.status).toBe(200);
      expect(again.body['ids']).toEqual(first.body['ids']);
      expect(again.body['replayed']).toBe(true);
    }
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(1);
    const other = await call(r.url, 'POST', '/v1/messages', {
      token: alice.token,
      json: one(bob.aci, 'something else'),
      headers,
    });
    expect([other.status, other.body['error']]).toEqual([422, 'idempotency_key_reused']);
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(1);
    // Keys belong to their sender: the same key from another account is a new request.
    expect(
      (await call(r.url, 'POST', '/v1/messages', { token: mallory.token, json: one(bob.aci), headers }))
        .status,
    ).toBe(200);
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(2);
    // Without a key every POST queues.
    await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci) });
    await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci) });
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(4);
    // Records expire: a day later the key is a new request.
    now += 24 * 3600 * 1000;
    await call(r.url, 'POST', '/v1/messages', { token: alice.token, json: one(bob.aci), headers });
    expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(5);
  });
});

it('the client resends with the same key when the answer is lost, and the relay queues once', async () => {
  const r = await start({});
  const bob = await register(r.url, 'bob', await makeDevice());
  const alice = await register(r.url, 'alice', await makeDevice());
  let lost = 0;
  const api = new RelayApi(r.url, {
    token: alice.token,
    // The first POST reaches the relay and is queued, but its answer never arrives.
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      if (init?.method === 'POST' && lost++ === 0) throw new TypeError('network connection lost');
      return res;
    },
  });
  const sent = await api.send([{ to: bob.aci, deviceId: 1, kind: 'whisper', body: new Uint8Array([1]) }]);
  expect(lost).toBe(2);
  expect(sent.replayed).toBe(true);
  const queued = r.store.pending(bob.aci, 1, 0, 100);
  expect(queued.map((e) => e.id)).toEqual(sent.ids);
});
