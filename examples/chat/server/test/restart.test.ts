import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger, startRelay } from '../src/index.js';
import { b64, call, FrameClient, makeDevice, register } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('message queues, accounts and tokens survive a server restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-restart-'));
  dirs.push(dir);
  const dbPath = join(dir, 'relay.db');
  const first = await startRelay({ dbPath, logger: silentLogger });
  const alice = await register(first.url, 'alice', await makeDevice());
  const bob = await register(first.url, 'bob', await makeDevice());
  const bodies = ['first', 'second', 'third'].map((t) => b64(new TextEncoder().encode(t)));
  const sent = await call(first.url, 'POST', '/v1/messages', {
    token: alice.token,
    json: { messages: bodies.map((body) => ({ to: bob.aci, deviceId: 1, kind: 'whisper', body })) },
  });
  expect(sent.status).toBe(200);
  // Bob reads the first one and acknowledges it before the restart.
  const before = await FrameClient.open(first.wsUrl, bob.token);
  await before.next((f) => f.type === 'queue-empty');
  before.send({ type: 'ack', id: before.envelopes()[0]!['id'] });
  await expect.poll(() => first.store.pending(bob.aci, 1).length).toBe(2);
  await first.close();

  const second = await startRelay({ dbPath, logger: silentLogger });
  try {
    const after = await FrameClient.open(second.wsUrl, bob.token);
    await after.next((f) => f.type === 'queue-empty');
    expect(after.envelopes().map((e) => e['body'])).toEqual(bodies.slice(1));
    expect(after.envelopes().every((e) => e['from'] === alice.aci)).toBe(true);
    after.close();
  } finally {
    await second.close();
  }
});

it('rate-limit windows survive a restart: a flood does not resume at full rate, and windows still end', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-restart-limits-'));
  dirs.push(dir);
  const dbPath = join(dir, 'relay.db');
  let now = 1_800_000_000_000;
  const limits = {
    sendRate: { count: 3, windowMs: 60_000 },
    oneTimeKeyRate: { count: 2, windowMs: 3_600_000 },
    oneTimeKeyPairRate: { count: 100, windowMs: 3_600_000 },
  };
  const start = () => startRelay({ dbPath, logger: silentLogger, now: () => now, limits });
  const first = await start();
  const mallory = await register(first.url, 'mallory', await makeDevice());
  const bob = await register(first.url, 'bob', await makeDevice({ preKeys: 10, kyberPreKeys: 10 }));
  const one = { messages: [{ to: bob.aci, deviceId: 1, kind: 'whisper', body: b64(new Uint8Array([1])) }] };
  const post = (url: string) => call(url, 'POST', '/v1/messages', { token: mallory.token, json: one });
  const oneTimeKey = async (url: string) => {
    const res = await call(url, 'GET', `/v1/keys/${bob.aci}`, { token: mallory.token });
    return (res.body['devices'] as Record<string, unknown>[])[0]?.['preKey'] !== null;
  };
  expect([(await post(first.url)).status, (await post(first.url)).status]).toEqual([200, 200]);
  expect(await oneTimeKey(first.url)).toBe(true);
  await first.close();

  let second = await start();
  try {
    // One send left in the window, and one of Bob's one-time keys: the restart gave none back.
    expect((await post(second.url)).status).toBe(200);
    const limited = await post(second.url);
    expect([limited.status, limited.body['error']]).toEqual([429, 'rate_limited']);
    expect(await oneTimeKey(second.url)).toBe(true);
    expect(await oneTimeKey(second.url)).toBe(false); // only the last-resort keys now
    await second.close();
    // A window that ended while the relay was down is over after the next start too.
    now += 60_000;
    second = await start();
    expect((await post(second.url)).status).toBe(200);
    expect(await oneTimeKey(second.url)).toBe(false); // the one-hour window still runs
  } finally {
    await second.close();
  }
});
