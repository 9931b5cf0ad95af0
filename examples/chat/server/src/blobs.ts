/**
 * Attachment blobs (Signal's attachment CDN, in the relay's SQLite file):
 *
 *   POST /v1/attachments      (authenticated) body: the encrypted blob, application/octet-stream
 *                             → 201 {id}
 *   GET  /v1/attachments/<id> (authenticated) → 200 the same bytes, application/octet-stream
 *
 * The relay cannot read a blob: the client encrypted it under a key that travels only inside an
 * end-to-end encrypted message. It stores bytes, counts them against the uploader's quota (bytes
 * and number of blobs) and forgets them after the retention period, as Signal's CDN does. Ids are
 * 192 random bits, so holding one is what lets a registered account fetch a blob.
 *
 * An upload is idempotent per account: the same bytes uploaded again by the same account (a client
 * that crashed or lost the answer before it recorded the id) answer the stored blob's id (200)
 * instead of storing a second copy. The digest is over the ciphertext, which the relay holds anyway.
 * Such a re-upload costs nothing, so it is answered even when the account is at its quota: an
 * upload whose declared length would break the quota is read only when the account already stores
 * a blob of exactly that length (and, when the client names the bytes' SHA-256 in a
 * `Content-Digest: sha-256=:<base64>:` header, RFC 9530, that digest), and then at most that many
 * bytes; anything else is refused before its body is read. The quota itself is checked again, with
 * the real size, before anything new is stored.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RelayStore } from './db.js';
import { authenticate, type Route, readBody } from './http.js';
import { HttpError } from './validate.js';

export interface BlobLimits {
  /** Largest blob in bytes (a 10 MiB photo is about 10.5 MiB once padded and encrypted). */
  readonly maxBlobBytes: number;
  /** Bytes one account may keep stored at once. */
  readonly maxBytesPerAccount: number;
  /** Blobs one account may keep stored at once. */
  readonly maxBlobsPerAccount: number;
  /** Blobs older than this are deleted (Signal keeps attachments 30 days). */
  readonly retentionMs: number;
}

export const DEFAULT_BLOB_LIMITS: BlobLimits = {
  maxBlobBytes: 12 * 1024 * 1024,
  maxBytesPerAccount: 256 * 1024 * 1024,
  maxBlobsPerAccount: 1000,
  retentionMs: 30 * 24 * 60 * 60 * 1000,
};

const ID = /^[A-Za-z0-9_-]{32}$/;

export function ensureBlobTable(store: RelayStore): void {
  store.db.exec(`CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, size INTEGER NOT NULL, created_at INTEGER NOT NULL,
    data BLOB NOT NULL, digest BLOB) STRICT;
    CREATE INDEX IF NOT EXISTS attachments_owner ON attachments (owner);
    CREATE INDEX IF NOT EXISTS attachments_created ON attachments (created_at);`);
  // A database from before idempotent uploads: its blobs have no digest (they are never matched).
  const columns = store.db.prepare('PRAGMA table_info(attachments)').all() as { name: string }[];
  if (!columns.some((c) => c.name === 'digest'))
    store.db.exec('ALTER TABLE attachments ADD COLUMN digest BLOB');
  store.db.exec('CREATE INDEX IF NOT EXISTS attachments_digest ON attachments (owner, digest)');
}

function usage(store: RelayStore, owner: string): { count: number; bytes: number } {
  return store.db
    .prepare('SELECT count(*) AS count, coalesce(sum(size), 0) AS bytes FROM attachments WHERE owner = ?')
    .get(owner) as { count: number; bytes: number };
}

/** Why a new blob of `size` bytes would break the account's quota, or undefined if it fits. */
function quotaError(
  store: RelayStore,
  owner: string,
  size: number,
  limits: BlobLimits,
): HttpError | undefined {
  const used = usage(store, owner);
  if (used.count + 1 > limits.maxBlobsPerAccount) {
    return new HttpError(
      413,
      'quota_exceeded',
      `this account already stores ${limits.maxBlobsPerAccount} attachments`,
    );
  }
  if (used.bytes + size > limits.maxBytesPerAccount) {
    return new HttpError(413, 'quota_exceeded', 'this attachment would exceed the account storage quota');
  }
  return undefined;
}

/**
 * The SHA-256 a `Content-Digest` header names (`sha-256=:<base64>:`, RFC 9530), if it names one.
 * Other algorithms are ignored, as the RFC allows; a malformed sha-256 value is a 400.
 */
export function claimedDigest(header: string | string[] | undefined): Buffer | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return undefined;
  const m = /(?:^|,)\s*sha-256\s*=\s*:([A-Za-z0-9+/]*={0,2}):\s*(?:,|$)/i.exec(value);
  if (!m) {
    if (/(?:^|,)\s*sha-256\s*=/i.test(value))
      throw new HttpError(400, 'invalid_request', 'Content-Digest: sha-256 must be 32 bytes of base64');
    return undefined;
  }
  const digest = Buffer.from(m[1] ?? '', 'base64');
  if (digest.length !== 32)
    throw new HttpError(400, 'invalid_request', 'Content-Digest: sha-256 must be 32 bytes of base64');
  return digest;
}

/** True when the account stores a live blob of `size` bytes (with `digest`, when given). */
function mayBeStored(
  store: RelayStore,
  owner: string,
  size: number,
  digest: Buffer | undefined,
  since: number,
): boolean {
  const row = digest
    ? store.db
        .prepare('SELECT 1 FROM attachments WHERE owner = ? AND digest = ? AND size = ? AND created_at >= ?')
        .get(owner, digest, size, since)
    : store.db
        .prepare(
          'SELECT 1 FROM attachments WHERE owner = ? AND size = ? AND digest IS NOT NULL AND created_at >= ? LIMIT 1',
        )
        .get(owner, size, since);
  return row !== undefined;
}

export function blobRoutes(limits: BlobLimits): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/v1\/attachments$/,
      name: 'attachment-upload',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        const type = req.headers['content-type'] ?? '';
        if (!/^application\/octet-stream\b/i.test(type)) {
          throw new HttpError(
            415,
            'unsupported_media_type',
            'an attachment must be uploaded as application/octet-stream',
          );
        }
        const claimed = claimedDigest(req.headers['content-digest']);
        const now = ctx.now();
        const since = now - limits.retentionMs;
        ctx.store.db.prepare('DELETE FROM attachments WHERE created_at < ?').run(since);
        // When the declared length already breaks the quota, only a re-upload of a blob this
        // account stores can succeed (it costs nothing): the body is read only if the account
        // stores a blob of that length (and digest, if named), and no further than that length.
        // Otherwise the upload is refused before its body is read.
        let readLimit = limits.maxBlobBytes;
        const declared = Number(req.headers['content-length'] ?? 0);
        if (Number.isSafeInteger(declared) && declared > 0 && declared <= limits.maxBlobBytes) {
          const over = quotaError(ctx.store, me.aci, declared, limits);
          if (over && !mayBeStored(ctx.store, me.aci, declared, claimed, since)) throw over;
          if (over) readLimit = declared;
        }
        const body = await readBody(req, readLimit);
        if (body.length === 0) throw new HttpError(400, 'invalid_request', 'the attachment body is empty');
        const digest = createHash('sha256').update(body).digest();
        if (claimed && !claimed.equals(digest))
          throw new HttpError(
            400,
            'digest_mismatch',
            'the body does not have the SHA-256 its Content-Digest names',
          );
        const stored = ctx.store.db
          .prepare('SELECT id FROM attachments WHERE owner = ? AND digest = ? AND created_at >= ?')
          .get(me.aci, digest, since) as { id: string } | undefined;
        if (stored) return [200, { id: stored.id }];
        const id = randomBytes(24).toString('base64url');
        // Checked again with the real size (the dedupe above is the only way past a full quota);
        // no await between the check and the insert.
        const over = quotaError(ctx.store, me.aci, body.length, limits);
        if (over) throw over;
        ctx.store.db
          .prepare(
            'INSERT INTO attachments (id, owner, size, created_at, data, digest) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(id, me.aci, body.length, now, body, digest);
        ctx.log.info('attachment.stored', { account: me.name, bytes: body.length });
        return [201, { id }];
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/attachments\/([^/]+)$/,
      name: 'attachment-download',
      handler: async (req, [rawId], ctx) => {
        authenticate(req, ctx);
        const id = rawId ?? '';
        const row = ID.test(id)
          ? (ctx.store.db
              .prepare('SELECT data FROM attachments WHERE id = ? AND created_at >= ?')
              .get(id, ctx.now() - limits.retentionMs) as { data: Uint8Array } | undefined)
          : undefined;
        if (!row) throw new HttpError(404, 'not_found', 'no such attachment (or it expired)');
        return [200, new Uint8Array(row.data)];
      },
    },
  ];
}
