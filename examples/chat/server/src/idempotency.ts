/**
 * Idempotency keys for message submission. A client that did not see the answer to a POST (a
 * timeout, a dropped connection) sends it again with the same `Idempotency-Key` header; the relay
 * answers what it answered the first time and queues nothing new. The key is scoped to the sending
 * account; the same key with a different request is refused (422) rather than silently ignored.
 * Records expire after `ttlMs` and at most `perSender` are kept per account (oldest dropped first).
 */
import { createHash } from 'node:crypto';
import type Database from 'better-sqlite3';
import { HttpError } from './validate.js';

export const IDEMPOTENCY_HEADER = 'idempotency-key';
/** 8–64 URL-safe characters (a UUID fits, and so does base64url of 6 to 48 random bytes). */
export const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{8,64}$/;

export interface IdempotencyOptions {
  readonly ttlMs: number;
  readonly perSender: number;
}

export const DEFAULT_IDEMPOTENCY: IdempotencyOptions = { ttlMs: 24 * 3600 * 1000, perSender: 1000 };

/** The header's key, undefined when absent; a malformed key is 400. */
export function idempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string' || !IDEMPOTENCY_KEY.test(header)) {
    throw new HttpError(400, 'invalid_request', 'Idempotency-Key must be 8 to 64 of A-Z a-z 0-9 - _');
  }
  return header;
}

/** SHA-256 over the request's fields, each length-prefixed so no two requests share an encoding. */
export function requestDigest(parts: readonly (string | number | Uint8Array)[]): Buffer {
  const h = createHash('sha256');
  for (const p of parts) {
    const bytes = typeof p === 'string' || typeof p === 'number' ? Buffer.from(String(p)) : p;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(bytes.length);
    h.update(len).update(bytes);
  }
  return h.digest();
}

export class IdempotencyLog {
  constructor(
    readonly db: Database.Database,
    readonly options: IdempotencyOptions = DEFAULT_IDEMPOTENCY,
  ) {}

  /**
   * Runs `apply` once per (sender, key): inside one transaction with it, the first answer is stored
   * and later calls get it back without running `apply`. Without a key, `apply` just runs.
   */
  run<T>(
    sender: string,
    key: string | undefined,
    digest: Uint8Array,
    now: number,
    apply: () => T,
  ): { answer: T; replayed: boolean } {
    if (key === undefined) return { answer: apply(), replayed: false };
    return this.db.transaction(() => {
      this.db.prepare('DELETE FROM idempotency WHERE created_at <= ?').run(now - this.options.ttlMs);
      const prior = this.db
        .prepare('SELECT request_hash, answer FROM idempotency WHERE sender = ? AND key = ?')
        .get(sender, key) as { request_hash: Buffer; answer: string } | undefined;
      if (prior) {
        if (!Buffer.from(digest).equals(prior.request_hash)) {
          throw new HttpError(
            422,
            'idempotency_key_reused',
            'this Idempotency-Key was already used for a different request',
          );
        }
        return { answer: JSON.parse(prior.answer) as T, replayed: true };
      }
      const answer = apply();
      this.db
        .prepare(
          'INSERT INTO idempotency (sender, key, request_hash, answer, created_at) VALUES (?, ?, ?, ?, ?)',
        )
        .run(sender, key, digest, JSON.stringify(answer), now);
      this.db
        .prepare(
          'DELETE FROM idempotency WHERE sender = ? AND rowid NOT IN (SELECT rowid FROM idempotency WHERE sender = ? ORDER BY created_at DESC, rowid DESC LIMIT ?)',
        )
        .run(sender, sender, this.options.perSender);
      return { answer, replayed: false };
    })();
  }
}
