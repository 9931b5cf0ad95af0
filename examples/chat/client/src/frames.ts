/**
 * What the relay sends to a client — WebSocket frames and the envelopes of `GET /v1/messages` —
 * checked before anything reads it. The relay is untrusted: a frame of the wrong shape (not an
 * object, a missing or mistyped field, bad base64, an id the relay could not have assigned) is a
 * `DecodeError`, never a TypeError from deep inside `receive` or an exception thrown out of the
 * socket's message handler (in Node that is an uncaught exception: the process ends).
 */
import { DecodeError, fromBase64 } from '@e2ee-kit/core';
import type { Envelope, PreKeyCounts } from './api.js';

/**
 * The longest frame read at all, in characters. The relay's largest envelope is 64 KiB of
 * ciphertext (88 K of base64); a frame far above that is not the relay's own, and parsing it
 * would cost what the relay chooses.
 */
export const MAX_FRAME_CHARS = 256 * 1024;
/** Device ids the relay assigns (1 for the primary, up to 127 linked). */
const MAX_DEVICE_ID = 127;
/** ServiceIds are UUIDs; anything much longer is not one. */
const MAX_SERVICE_ID = 64;
const KINDS: ReadonlySet<string> = new Set(['prekey', 'whisper', 'senderkey', 'sealed', 'plaintext']);

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** One WebSocket frame as a JSON object with a string `type`; anything else is refused. */
export function parseFrame(data: unknown): Record<string, unknown> & { type: string } {
  if (typeof data !== 'string') throw new DecodeError('relay frames must be text');
  if (data.length > MAX_FRAME_CHARS) throw new DecodeError('relay frame is too long');
  let frame: unknown;
  try {
    frame = JSON.parse(data);
  } catch {
    throw new DecodeError('relay frame is not JSON');
  }
  if (frame === null || typeof frame !== 'object' || Array.isArray(frame))
    throw new DecodeError('relay frame is not an object');
  const { type } = frame as Record<string, unknown>;
  if (typeof type !== 'string') throw new DecodeError('relay frame has no type');
  return frame as Record<string, unknown> & { type: string };
}

/** A queued envelope as the relay describes it (a sealed one names no sender). */
export function parseEnvelope(value: unknown): Envelope {
  if (value === null || typeof value !== 'object') throw new DecodeError('envelope is not an object');
  const e = value as Record<string, unknown>;
  const { id, kind, body, serverTimestamp } = e;
  if (!isCount(id) || id === 0) throw new DecodeError('envelope id is not a positive integer');
  if (typeof kind !== 'string' || !KINDS.has(kind)) throw new DecodeError('unknown envelope kind');
  if (!isCount(serverTimestamp)) throw new DecodeError('envelope timestamp is not a time');
  if (typeof body !== 'string' || body.length === 0 || body.length > MAX_FRAME_CHARS)
    throw new DecodeError('envelope body is not base64 text');
  let bytes: Uint8Array;
  try {
    bytes = fromBase64(body);
  } catch {
    throw new DecodeError('envelope body is not base64 text');
  }
  // A sealed envelope's sender is known only once it is opened; every other kind names one.
  const sealed = kind === 'sealed';
  const from = e['from'] ?? (sealed ? '' : undefined);
  const fromDevice = e['fromDevice'] ?? (sealed ? 0 : undefined);
  if (typeof from !== 'string' || from.length > MAX_SERVICE_ID || (!sealed && from.length === 0))
    throw new DecodeError('envelope sender is not a ServiceId');
  if (!isCount(fromDevice) || fromDevice > MAX_DEVICE_ID || (!sealed && fromDevice === 0))
    throw new DecodeError('envelope sender device is not a device id');
  return { id, from, fromDevice, kind: kind as Envelope['kind'], body: bytes, serverTimestamp };
}

/** The counts of a `prekeys-low` frame, or undefined when they are not counts. */
export function parsePreKeyCounts(frame: Record<string, unknown>): PreKeyCounts | undefined {
  const { preKeys, kyberPreKeys } = frame;
  if (!isCount(preKeys) || !isCount(kyberPreKeys)) return undefined;
  return { preKeys, kyberPreKeys, low: frame['low'] === true };
}
