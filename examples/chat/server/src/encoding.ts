/** Byte helpers shared by the HTTP modules. */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';

export const sha256 = (data: Uint8Array | string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(data).digest());

export const base64 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
