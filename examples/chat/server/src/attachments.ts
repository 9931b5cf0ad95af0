/**
 * Attachment blobs: opaque ciphertext (a photo encrypted under its own key by the sender) that the
 * relay stores and hands out by a random id. The relay never has the key; the digest that proves
 * the blob is the sent one travels only inside the end-to-end encrypted message.
 *
 *   POST /v1/attachments       (authenticated) {body: base64} → {id}
 *   GET  /v1/attachments/<id>  (authenticated) → {body: base64}
 *
 * Limits: MAX_BLOB bytes per blob and MAX_PER_ACCOUNT blobs per uploading account (the oldest are
 * dropped past it), so one account cannot fill the disk.
 */
import { randomBytes } from 'node:crypto';
import type { RelayStore } from './db.js';
import { authenticate, base64, jsonBody, type Route } from './http.js';
import { b64, HttpError, obj } from './validate.js';

/** A 5 MiB photo, padded (+5 %), IV and MAC. */
export const MAX_BLOB = 5 * 1024 * 1024 + 300 * 1024;
export const MAX_PER_ACCOUNT = 200;
const ID = /^[0-9a-f]{32}$/;

export function ensureAttachmentTable(store: RelayStore): void {
  store.db.exec(`CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX IF NOT EXISTS attachments_owner ON attachments (owner, created_at);`);
}

export function attachmentRoutes(): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/v1\/attachments$/,
      name: 'attachment-put',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        const body = obj(await jsonBody(req, Math.ceil((MAX_BLOB * 4) / 3) + 1024), 'body', ['body']);
        const blob = b64(body['body'], 'body.body', { min: 1, max: MAX_BLOB });
        const id = randomBytes(16).toString('hex');
        const db = ctx.store.db;
        db.transaction(() => {
          db.prepare('INSERT INTO attachments (id, owner, body, created_at) VALUES (?, ?, ?, ?)').run(
            id,
            me.name,
            blob,
            ctx.now(),
          );
          db.prepare(
            `DELETE FROM attachments WHERE owner = ? AND id NOT IN
               (SELECT id FROM attachments WHERE owner = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)`,
          ).run(me.name, me.name, MAX_PER_ACCOUNT);
        })();
        ctx.log.info('attachment.stored', { account: me.name, bytes: blob.length });
        return [200, { id }];
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/attachments\/([^/]+)$/,
      name: 'attachment-get',
      handler: async (req, [rawId], ctx) => {
        authenticate(req, ctx);
        if (!rawId || !ID.test(rawId)) throw new HttpError(404, 'not_found', 'no such attachment');
        const row = ctx.store.db.prepare('SELECT body FROM attachments WHERE id = ?').get(rawId) as
          | { body: Buffer }
          | undefined;
        if (!row) throw new HttpError(404, 'not_found', 'no such attachment');
        return [200, { body: base64(new Uint8Array(row.body)) }];
      },
    },
  ];
}
