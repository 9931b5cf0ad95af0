/**
 * Strict request validation. Every check throws `HttpError` (a 4xx with a stable `code`) before the
 * store is touched, so a rejected request changes nothing. Messages name the field, never its value.
 */
import { Buffer } from 'node:buffer';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const bad = (path: string, what: string): HttpError =>
  new HttpError(400, 'invalid_request', `${path} ${what}`);

export type Json = unknown;

export function parseJson(body: Buffer): Json {
  try {
    return JSON.parse(body.toString('utf8')) as Json;
  } catch {
    throw new HttpError(400, 'invalid_json', 'the request body is not valid JSON');
  }
}

export function obj(v: Json, path: string, allowed: readonly string[]): Record<string, Json> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw bad(path, 'must be an object');
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k)) throw bad(`${path}.${k.slice(0, 40)}`, 'is not a known field');
  }
  return v as Record<string, Json>;
}

export function int(v: Json, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(path, 'must be an integer');
  if (v < min || v > max) throw bad(path, `must be between ${min} and ${max}`);
  return v;
}

export function bool(v: Json, path: string): boolean {
  if (typeof v !== 'boolean') throw bad(path, 'must be a boolean');
  return v;
}

export function str(v: Json, path: string, pattern: RegExp, description: string): string {
  if (typeof v !== 'string' || !pattern.test(v)) throw bad(path, `must be ${description}`);
  return v;
}

const B64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Standard base64 (padded) → bytes, with an exact length or a maximum. */
export function b64(v: Json, path: string, size: { exact?: number; max?: number; min?: number }): Uint8Array {
  if (typeof v !== 'string' || v.length % 4 !== 0 || !B64.test(v)) throw bad(path, 'must be padded base64');
  const maxChars = size.exact ?? size.max;
  if (maxChars !== undefined && v.length > Math.ceil(maxChars / 3) * 4) throw tooBig(path);
  const bytes = new Uint8Array(Buffer.from(v, 'base64'));
  if (size.exact !== undefined && bytes.length !== size.exact) throw bad(path, `must be ${size.exact} bytes`);
  if (size.max !== undefined && bytes.length > size.max) throw tooBig(path);
  if (size.min !== undefined && bytes.length < size.min)
    throw bad(path, `must be at least ${size.min} bytes`);
  return bytes;
}

export function arr(v: Json, path: string, max: number): Json[] {
  if (!Array.isArray(v)) throw bad(path, 'must be an array');
  if (v.length > max) throw new HttpError(413, 'too_many_items', `${path} may hold at most ${max} items`);
  return v;
}

export const tooBig = (what: string): HttpError =>
  new HttpError(413, 'too_large', `${what} is larger than this server accepts`);

/** Account names: 1–32 of lowercase letters, digits, '-' and '_'. */
export const NAME = /^[a-z0-9_-]{1,32}$/;
export const NAME_DESCRIPTION = '1 to 32 lowercase letters, digits, "-" or "_"';

/** A ServiceId (ACI) as the relay issues it: a lowercase hyphenated UUID (libsignal's string form). */
export const ACI = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const ACI_DESCRIPTION = 'a ServiceId (lowercase hyphenated UUID)';
