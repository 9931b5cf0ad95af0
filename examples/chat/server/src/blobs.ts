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

function checkQuota(store: RelayStore, owner: string, size: number, limits: BlobLimits): void {
  const used = usage(store, owner);
  if (used.count + 1 > limits.maxBlobsPerAccount) {
    throw new HttpError(
      413,
      'quota_exceeded',
      `this account already stores ${limits.maxBlobsPerAccount} attachments`,
    );
  }
  if (used.bytes + size > limits.maxBytesPerAccount) {
    throw new HttpError(413, 'quota_exceeded', 'this attachment would exceed the account storage quota');
  }
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
        const now = ctx.now();
        ctx.store.db.prepare('DELETE FROM attachments WHERE created_at < ?').run(now - limits.retentionMs);
        // Refused before the body is read when the declared length already breaks the quota.
        const declared = Number(req.headers['content-length'] ?? 0);
        if (Number.isSafeInteger(declared) && declared > 0 && declared <= limits.maxBlobBytes) {
          checkQuota(ctx.store, me.aci, declared, limits);
        }
        const body = await readBody(req, limits.maxBlobBytes);
        if (body.length === 0) throw new HttpError(400, 'invalid_request', 'the attachment body is empty');
        const digest = createHash('sha256').update(body).digest();
        const stored = ctx.store.db
          .prepare('SELECT id FROM attachments WHERE owner = ? AND digest = ? AND created_at >= ?')
          .get(me.aci, digest, now - limits.retentionMs) as { id: string } | undefined;
        if (stored) return [200, { id: stored.id }];
        const id = randomBytes(24).toString('base64url');
        // Checked again with the real size; no await between the check and the insert.
        checkQuota(ctx.store, me.aci, body.length, limits);
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
