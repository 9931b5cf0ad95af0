/**
 * Reading request bodies (`readBody`, `jsonBody`), and the bytes of those being read, capped in
 * aggregate and per remote (limits.ts `maxInFlightBodyBytes`, `maxInFlightBodyBytesPerRemote`). Each route caps its own body (a blob at
 * 12 MiB, a backup at ~44 MB of JSON), but without this N concurrent uploads were N × that in memory.
 * Bytes are counted as chunks arrive — a Content-Length is only a hint: one that would not fit is
 * refused before anything is read, and a body that streams past the cap is refused at that chunk. A
 * request's bytes stay counted until its answer is sent, since the handler holds the buffer until then.
 *
 * The router opens a ticket per request (`admitBodies`); `readBody` finds it by the request, so every
 * route is counted without each having to pass it along.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import type { RemoteCounter } from './remote.js';
import { HttpError, type Json, parseJson, tooBig } from './validate.js';

interface Ticket {
  readonly budget: RemoteCounter;
  readonly remote: string;
  taken: number;
}

const tickets = new WeakMap<IncomingMessage, Ticket>();

const refusal = (full: 'total' | 'remote'): HttpError =>
  full === 'total'
    ? new HttpError(503, 'busy', 'the relay is receiving too many uploads right now; retry later', {
        retryAfterSeconds: 5,
      })
    : new HttpError(429, 'rate_limited', 'too many uploads in progress from this address; retry later', {
        retryAfterSeconds: 5,
      });

/** Counts the request's body against `budget`; returns the release to call once it is answered. */
export function admitBodies(req: IncomingMessage, budget: RemoteCounter, remote: string): () => void {
  const ticket: Ticket = { budget, remote, taken: 0 };
  tickets.set(req, ticket);
  return () => {
    budget.release(remote, ticket.taken);
    ticket.taken = 0;
    tickets.delete(req);
  };
}

/** Refuses (nothing counted) a declared length that would not fit now, before any byte is read. */
function checkDeclared(req: IncomingMessage, declared: number): void {
  const t = tickets.get(req);
  if (!t || !Number.isSafeInteger(declared) || declared <= 0) return;
  const full =
    t.budget.total + declared > t.budget.maxTotal
      ? 'total'
      : t.budget.perRemote(t.remote) + declared > t.budget.maxPerRemote
        ? 'remote'
        : undefined;
  if (full) throw refusal(full);
}

/** Counts `bytes` more of the request's body, or throws 503 / 429 (nothing counted). */
function chargeChunk(req: IncomingMessage, bytes: number): void {
  const t = tickets.get(req);
  if (!t) return;
  const full = t.budget.take(t.remote, bytes);
  if (full) throw refusal(full);
  t.taken += bytes;
}

/**
 * Reads the body, refusing (413) as soon as it passes `limit`: an oversized body is never buffered
 * whole. Every chunk is also counted against the relay's bytes in flight (503 / 429, above).
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooBig('the request body');
  if (declared !== undefined) checkDeclared(req, Number(declared));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooBig('the request body');
    chargeChunk(req, chunk.length);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

export async function jsonBody(req: IncomingMessage, limit: number): Promise<Json> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'the request body must be application/json');
  }
  return parseJson(await readBody(req, limit));
}
