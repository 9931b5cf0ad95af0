/**
 * Registration needs no account, so it is rate-limited per remote address (limits.ts
 * `registrationRate`; remote.ts): before, one client could create any number of accounts — each
 * with up to 200 prekeys stored — and with them any number of senders to flood others with.
 */
import { request } from 'node:http';
import { afterEach, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { makeDevice } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

/** POST /v1/accounts from `from`; the status. */
const registerFrom = (r: Relay, from: string, json: unknown, headers: Record<string, string> = {}) =>
  new Promise<number>((resolve, reject) => {
    const body = JSON.stringify(json);
    const req = request(`${r.url}/v1/accounts`, {
      method: 'POST',
      localAddress: from,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
    });
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    req.on('error', reject);
    req.end(body);
  });
const accounts = (r: Relay) =>
  (r.store.db.prepare('SELECT count(*) AS n FROM accounts').get() as { n: number }).n;

it('one remote registers at most registrationRate.count accounts per window, failed attempts included', async () => {
  let now = 5_000_000;
  const r = await startRelay({
    logger: silentLogger,
    now: () => now,
    limits: { registrationRate: { count: 3, windowMs: 60_000 } },
  });
  relays.push(r);
  const device = (await makeDevice()).registration;
  expect(await registerFrom(r, '127.0.0.1', { name: 'bad name!', device })).toBe(400);
  expect(await registerFrom(r, '127.0.0.1', { name: 'a1', device: (await makeDevice()).registration })).toBe(
    201,
  );
  expect(await registerFrom(r, '127.0.0.1', { name: 'a2', device: (await makeDevice()).registration })).toBe(
    201,
  );
  // The fourth attempt in the window, with a new X-Forwarded-For: still the same remote.
  const fourth = { name: 'a3', device: (await makeDevice()).registration };
  expect(await registerFrom(r, '127.0.0.1', fourth, { 'x-forwarded-for': '10.1.2.3' })).toBe(429);
  expect(accounts(r)).toBe(2);
  expect(await registerFrom(r, '127.0.0.2', fourth)).toBe(201);
  now += 60_000;
  expect(await registerFrom(r, '127.0.0.1', { name: 'a4', device: (await makeDevice()).registration })).toBe(
    201,
  );
  expect(accounts(r)).toBe(4);
});
