/**
 * Request bodies in flight are capped in aggregate and per remote (`maxInFlightBodyBytes`,
 * `maxInFlightBodyBytesPerRemote`): bytes are counted as they stream in, so N concurrent 12 MiB
 * uploads cannot all be buffered at once. Remotes are told apart by the TCP peer (127.0.0.x).
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { makeDevice, register } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

interface Upload {
  /** Writes more of the body. */
  write(bytes: Uint8Array): void;
  /** Ends the body; resolves with the status (it may come sooner, see `status`). */
  end(): Promise<number>;
  /** The status, whenever the relay answers. */
  readonly status: Promise<number>;
}

/** An attachment upload from `from`, chunked (no Content-Length) unless `length` is given. */
function upload(r: Relay, token: string, from: string, length?: number): Upload {
  const req = request(`${r.url}/v1/attachments`, {
    method: 'POST',
    localAddress: from,
    headers: {
      'content-type': 'application/octet-stream',
      authorization: `Bearer ${token}`,
      ...(length !== undefined ? { 'content-length': length } : {}),
    },
  });
  const status = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    req.on('error', reject);
  });
  req.flushHeaders();
  return {
    write: (bytes) => req.write(bytes),
    end: () => {
      req.end();
      return status;
    },
    status,
  };
}
const whole = (r: Relay, token: string, from: string, n: number, declared = true) => {
  const u = upload(r, token, from, declared ? n : undefined);
  u.write(new Uint8Array(n).fill(n & 0xff));
  return u.end();
};
const rows = (r: Relay) =>
  (r.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((res) => setImmediate(res));
  expect(cond()).toBe(true);
}

describe('request bodies in flight', () => {
  it('are counted as they stream: past the aggregate cap 503, past one remote’s share 429, freed when done', async () => {
    const r = await startRelay({
      logger: silentLogger,
      limits: { maxInFlightBodyBytes: 200_000, maxInFlightBodyBytesPerRemote: 150_000 },
    });
    relays.push(r);
    const alice = await register(r.url, 'alice', await makeDevice());
    const bob = await register(r.url, 'bob', await makeDevice());
    // Alice streams 100 kB without a Content-Length and holds the request open.
    const slow = upload(r, alice.token, '127.0.0.1');
    slow.write(new Uint8Array(100_000).fill(1));
    await until(() => r.bodyBytesInFlight >= 100_000);
    // 120 kB more from another remote would pass 200 kB in flight: refused, streamed or declared.
    expect(await whole(r, bob.token, '127.0.0.2', 120_000, false)).toBe(503);
    expect(await whole(r, bob.token, '127.0.0.2', 120_000)).toBe(503);
    // Alice's own remote may hold 150 kB: 60 kB more from it is refused (429), others' are not.
    expect(await whole(r, alice.token, '127.0.0.1', 60_000, false)).toBe(429);
    expect(await whole(r, bob.token, '127.0.0.2', 50_000)).toBe(201);
    expect(rows(r)).toBe(1);
    expect(await slow.end()).toBe(201);
    await until(() => r.bodyBytesInFlight === 0);
    expect(await whole(r, bob.token, '127.0.0.2', 120_000, false)).toBe(201);
    expect(rows(r)).toBe(3);
  });

  it('a JSON route is counted the same way (a backup upload)', async () => {
    const r = await startRelay({ logger: silentLogger, limits: { maxInFlightBodyBytesPerRemote: 20_000 } });
    relays.push(r);
    const alice = await register(r.url, 'alice', await makeDevice());
    const body = JSON.stringify({ slots: 'AAAA', payload: 'A'.repeat(30_000) });
    const res = await fetch(`${r.url}/v1/backup`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
      body,
    });
    expect(res.status).toBe(429);
    expect(r.store.getBackup(alice.aci)).toBeFalsy();
  });
});
