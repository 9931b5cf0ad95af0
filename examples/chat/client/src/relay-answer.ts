/**
 * Reading a relay's HTTP answers with a bound. The relay is not trusted with plaintext, nor with the
 * device's memory: an answer of 1 GB (or one that never ends) would be buffered whole by
 * `Response#text()` and stall or kill a phone or a browser tab. Each answer is read chunk by chunk and
 * refused with a `DecodeError` as soon as it passes its route's bound; the rest is not read.
 */
import { DecodeError } from '@e2ee-kit/core';

/** Any ordinary answer (keys, counts, ids, directory entries, errors): far above what one holds. */
export const MAX_ANSWER_BYTES = 1024 * 1024;
/**
 * `GET /v1/messages`: at most the relay's delivery window (100) of envelopes of at most 64 KiB
 * each, as base64 in JSON — about 8.5 MiB — with room to spare.
 */
export const MAX_QUEUE_ANSWER_BYTES = 16 * 1024 * 1024;
/** `GET /v1/backup`: a 32 MiB payload and a 64 KiB slot section as base64 (~42.8 MiB), and room. */
export const MAX_BACKUP_ANSWER_BYTES = 48 * 1024 * 1024;

/**
 * The body of `res`, at most `maxBytes`: refused from its Content-Length, or as soon as the stream
 * passes the bound, with `tooLong()` — the stream is cancelled and not read further.
 */
export async function readBounded(
  res: Response,
  maxBytes: number,
  tooLong: () => Error,
): Promise<Uint8Array> {
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    await res.body?.cancel();
    throw tooLong();
  }
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  // One buffer grown by doubling (never past the bound), not a list of chunks: a relay sending its
  // answer a byte at a time must not cost an object per byte.
  let out = new Uint8Array(Math.min(maxBytes, 64 * 1024));
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (total + value.length > maxBytes) {
      await reader.cancel();
      throw tooLong();
    }
    if (total + value.length > out.length) {
      const grown = new Uint8Array(Math.min(maxBytes, Math.max(out.length * 2, total + value.length)));
      grown.set(out.subarray(0, total));
      out = grown;
    }
    out.set(value, total);
    total += value.length;
  }
  return out.slice(0, total);
}

/** A 4xx/5xx answer of the relay, with its stable `code`. */
export class RelayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** The answer's JSON (a 409/410 names the devices). */
    readonly body: Readonly<Record<string, unknown>> = {},
  ) {
    super(`relay answered ${status} ${code}: ${message}`);
    this.name = 'RelayError';
  }
}

const utf8 = new TextDecoder();
/** The relay's error codes are short words, its messages one sentence (server/src/validate.ts). */
const MAX_CODE_CHARS = 64;
const MAX_MESSAGE_CHARS = 300;

/** A relay answer of at most `maxBytes` as JSON, or its RelayError (DecodeError when too long). */
export async function answer(res: Response, maxBytes = MAX_ANSWER_BYTES): Promise<Record<string, unknown>> {
  const bytes = await readBounded(
    res,
    maxBytes,
    () => new DecodeError(`the relay's answer was longer than ${maxBytes} bytes: it was not read`),
  );
  const text = utf8.decode(bytes);
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = {};
  }
  if (!res.ok) {
    // The relay's words end up in the page and in logs: a short code and sentence, not a megabyte.
    throw new RelayError(
      res.status,
      String(json['error'] ?? 'error').slice(0, MAX_CODE_CHARS),
      String(json['message'] ?? res.statusText).slice(0, MAX_MESSAGE_CHARS),
      json,
    );
  }
  return json;
}
