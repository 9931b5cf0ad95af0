import { createHash } from 'node:crypto';
import { request } from 'node:http';
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
const upload = (
  r: Relay,
  token: string | undefined,
  body: Uint8Array<ArrayBuffer>,
  type = OCTETS,
  extra: Record<string, string> = {},
) =>
  fetch(`${r.url}/v1/attachments`, {
    method: 'POST',
    headers: { 'content-type': type, ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra },
    body,
  });
/** RFC 9530's header for the SHA-256 of `bytes` (computed here with node:crypto). */
const contentDigest = (bytes: Uint8Array) => ({
  'content-digest': `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`,
});
/**
 * Sends only the headers of an upload declaring `length` bytes and resolves with the status as soon
 * as the relay answers — which it can only do before the body, since none is ever sent.
 */
const headersOnly = (r: Relay, token: string, length: number, extra: Record<string, string> = {}) =>
  new Promise<number>((resolve, reject) => {
    const req = request(`${r.url}/v1/attachments`, {
      method: 'POST',
      headers: {
        'content-type': OCTETS,
        authorization: `Bearer ${token}`,
        'content-length': length,
        ...extra,
      },
    });
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      req.destroy();
    });
    req.on('error', reject);
    req.flushHeaders();
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

  it('answer a re-upload of a stored blob at the quota (it costs nothing), and nothing new', async () => {
    const r = await relayWith({ blobLimits: { maxBytesPerAccount: 2000, maxBlobsPerAccount: 3 } });
    const alice = await register(r.url, 'alice', await makeDevice());
    const first = blob(1000);
    const { id } = (await (await upload(r, alice.token, first)).json()) as { id: string };
    expect((await upload(r, alice.token, blob(1000, 1))).status).toBe(201);
    // At the byte quota: the same bytes again (a crash during the upload, a lost answer) get the
    // stored blob's id, with or without the digest header.
    const again = await upload(r, alice.token, first);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    const named = await upload(r, alice.token, first, OCTETS, contentDigest(first));
    expect(named.status).toBe(200);
    expect(((await named.json()) as { id: string }).id).toBe(id);
    // New bytes of a stored blob's length are read (they might have been a copy), then refused.
    const other = await upload(r, alice.token, blob(1000, 2));
    expect(other.status).toBe(413);
    expect(((await other.json()) as { error: string }).error).toBe('quota_exceeded');
    // A digest header that does not match the bytes is refused, whatever it names.
    const lying = await upload(r, alice.token, blob(1000, 2), OCTETS, contentDigest(first));
    expect(lying.status).toBe(400);
    expect(((await lying.json()) as { error: string }).error).toBe('digest_mismatch');
    expect(rows(r)).toBe(2);
    // Refused before the body is read: a length no stored blob has, or a digest it does not store.
    expect(await headersOnly(r, alice.token, 999)).toBe(413);
    expect(await headersOnly(r, alice.token, 1000, contentDigest(blob(1000, 2)))).toBe(413);
    // …while a declared copy of a stored blob is waited for (its body is read, at most 1000 bytes).
    const waited = await Promise.race([
      headersOnly(r, alice.token, 1000, contentDigest(first)),
      new Promise<string>((resolve) => setTimeout(() => resolve('waiting for the body'), 300)),
    ]);
    expect(waited).toBe('waiting for the body');
    expect(rows(r)).toBe(2);

    // The count quota too: three blobs stored, a copy of one is answered, a new one refused.
    expect((await upload(r, alice.token, blob(10))).status).toBe(413); // bytes: 2000 used
    const small = await relayWith({ blobLimits: { maxBlobsPerAccount: 1 } });
    const bob = await register(small.url, 'bob', await makeDevice());
    const only = blob(10, 7);
    const stored = (await (await upload(small, bob.token, only)).json()) as { id: string };
    const copy = await upload(small, bob.token, only);
    expect(copy.status).toBe(200);
    expect(((await copy.json()) as { id: string }).id).toBe(stored.id);
    expect((await upload(small, bob.token, blob(10, 8))).status).toBe(413);
    expect(rows(small)).toBe(1);
  });

  it('refuse a malformed Content-Digest with 400 and store nothing', async () => {
    const r = await relayWith();
    const alice = await register(r.url, 'alice', await makeDevice());
    for (const header of ['sha-256=:AAAA:', 'sha-256=abc', 'sha-256=:' + 'A'.repeat(44) + ':']) {
      const res = await upload(r, alice.token, blob(10), OCTETS, { 'content-digest': header });
      expect(res.status, header).toBe(400);
    }
    // Another algorithm alone is ignored (RFC 9530 lets a receiver skip what it does not know).
    expect(
      (await upload(r, alice.token, blob(10), OCTETS, { 'content-digest': 'sha-512=:AAAA:' })).status,
    ).toBe(201);
    expect(rows(r)).toBe(1);
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
