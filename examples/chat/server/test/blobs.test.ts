import { afterEach, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { call, makeDevice, register } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});
async function relayWith(options: Parameters<typeof startRelay>[0] = {}) {
  const r = await startRelay({ logger: silentLogger, ...options });
  relays.push(r);
  return r;
}

const OCTETS = 'application/octet-stream';
const upload = (r: Relay, token: string | undefined, body: Uint8Array<ArrayBuffer>, type = OCTETS) =>
  fetch(`${r.url}/v1/attachments`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
const download = (r: Relay, token: string | undefined, id: string) =>
  fetch(`${r.url}/v1/attachments/${id}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
const rows = (r: Relay) =>
  (r.store.db.prepare('SELECT count(*) AS n FROM attachments').get() as { n: number }).n;
const blob = (n: number, seed = 0) => Uint8Array.from({ length: n }, (_, i) => (i + seed) & 0xff);

describe('attachment blobs', () => {
  it('store opaque bytes for an account and hand them to any registered account holding the id', async () => {
    const r = await relayWith();
    const alice = await register(r.url, 'alice', await makeDevice());
    const bob = await register(r.url, 'bob', await makeDevice());
    const bytes = blob(70_000, 3);
    const res = await upload(r, alice.token, bytes);
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: string };
    // 24 random bytes, base64url: unguessable.
    expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);
    // The same bytes again from the same account (a lost answer, a restart mid-upload): the stored
    // blob's id, no second copy. From another account: a blob of its own.
    const again = await upload(r, alice.token, bytes);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    expect(rows(r)).toBe(1);
    const bobs = (await (await upload(r, bob.token, bytes)).json()) as { id: string };
    expect(bobs.id).not.toBe(id);
    expect(rows(r)).toBe(2);

    const got = await download(r, bob.token, id);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe(OCTETS);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(bytes))).toBe(true);
  });

  it('refuse anyone without a device token, both ways', async () => {
    const r = await relayWith();
    const alice = await register(r.url, 'alice', await makeDevice());
    expect((await upload(r, undefined, blob(10))).status).toBe(401);
    expect((await upload(r, 'x'.repeat(43), blob(10))).status).toBe(401);
    expect(rows(r)).toBe(0);
    const { id } = (await (await upload(r, alice.token, blob(10))).json()) as { id: string };
    expect((await download(r, undefined, id)).status).toBe(401);
  });

  it('answer malformed requests with 4xx and store nothing', async () => {
    const r = await relayWith({ blobLimits: { maxBlobBytes: 1000 } });
    const alice = await register(r.url, 'alice', await makeDevice());
    expect((await upload(r, alice.token, blob(10), 'application/json')).status).toBe(415);
    expect((await upload(r, alice.token, new Uint8Array(0))).status).toBe(400);
    const big = await upload(r, alice.token, blob(1001));
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: string }).error).toBe('too_large');
    expect(rows(r)).toBe(0);
    for (const id of ['short', 'A'.repeat(33), '%2e%2e', 'A'.repeat(31) + '!', 'A'.repeat(32)]) {
      expect((await download(r, alice.token, id)).status).toBe(404);
    }
    const del = await call(r.url, 'DELETE', `/v1/attachments/${'A'.repeat(32)}`, { token: alice.token });
    expect(del.status).toBe(405);
  });

  it('enforce per-account byte and count quotas (other accounts are unaffected)', async () => {
    const r = await relayWith({ blobLimits: { maxBytesPerAccount: 2500, maxBlobsPerAccount: 3 } });
    const alice = await register(r.url, 'alice', await makeDevice());
    const bob = await register(r.url, 'bob', await makeDevice());
    expect((await upload(r, alice.token, blob(1000))).status).toBe(201);
    expect((await upload(r, alice.token, blob(1000, 1))).status).toBe(201);
    const over = await upload(r, alice.token, blob(501));
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: string }).error).toBe('quota_exceeded');
    expect((await upload(r, alice.token, blob(500))).status).toBe(201);
    // Three stored: the count quota refuses a fourth however small.
    expect((await upload(r, alice.token, blob(1))).status).toBe(413);
    expect(rows(r)).toBe(3);
    expect((await upload(r, bob.token, blob(1000))).status).toBe(201);
  });

  it('forget blobs after the retention period, which frees the quota', async () => {
    let now = 1_800_000_000_000;
    const r = await relayWith({
      now: () => now,
      blobLimits: { maxBlobsPerAccount: 1, retentionMs: 60_000 },
    });
    const alice = await register(r.url, 'alice', await makeDevice());
    const { id } = (await (await upload(r, alice.token, blob(10))).json()) as { id: string };
    expect((await upload(r, alice.token, blob(10, 1))).status).toBe(413);
    now += 60_001;
    expect((await download(r, alice.token, id)).status).toBe(404);
    expect((await upload(r, alice.token, blob(10))).status).toBe(201);
    expect(rows(r)).toBe(1);
  });
});
