/**
 * The sender chooses every field of a message's content, so the decoder accepts only what the app
 * can show. `sentAt` is rendered as a date (`new Date(sentAt).toISOString()` for the `<time>`
 * element, a local time and a day separator): a value outside what a Date holds (±8.64e15 ms)
 * would throw a RangeError on every render of that chat — one message from a contact, or from any
 * member in a group, would make the conversation impossible to open.
 */
import { DecodeError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { decodeContent, encodeContent } from '../src/content.js';

/** Largest time a JavaScript Date holds (ECMA-262 21.4.1.1). */
const MAX_DATE_MS = 8.64e15;

const text = (sentAt: unknown) => ({ t: 'text', id: 'm1', text: 'hi', sentAt });
const photo = (sentAt: unknown) => ({
  t: 'attachment',
  id: 'm2',
  sentAt,
  attachment: {
    id: 'abcdefghijklmnopqrstuvwxyz012345',
    key: Buffer.alloc(64, 1).toString('base64'),
    digest: Buffer.alloc(32, 2).toString('base64'),
    size: 1,
    contentType: 'image/png',
  },
});
const raw = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

describe('content', () => {
  it('answers bytes that are not UTF-8 JSON objects with a DecodeError', () => {
    for (const b of [
      new Uint8Array([0xff, 0xfe]),
      raw('x').subarray(1),
      raw(null),
      raw(7),
      raw({ t: 'nope' }),
    ])
      expect(() => decodeContent(b)).toThrow(DecodeError);
  });
});

describe('content sentAt', () => {
  it('accepts times a Date can show, and each one renders', () => {
    for (const at of [0, 1, Date.now(), MAX_DATE_MS]) {
      const decoded = decodeContent(encodeContent(text(at) as never));
      expect(decoded).toEqual(text(at));
      expect(() => new Date((decoded as { sentAt: number }).sentAt).toISOString()).not.toThrow();
    }
    expect(decodeContent(raw(photo(Date.now())))).toMatchObject({ t: 'attachment' });
  });

  it('refuses times a Date cannot hold, and non-integers', () => {
    for (const at of [MAX_DATE_MS + 1, 1e300, -1, -MAX_DATE_MS, 1.5, '1', null]) {
      expect(() => decodeContent(raw(text(at)))).toThrow(DecodeError);
      expect(() => decodeContent(raw(photo(at)))).toThrow(DecodeError);
    }
  });
});

describe('group titles', () => {
  const group = (title: unknown) => ({
    t: 'group',
    group: { id: 'g1', title, admin: 'mallory', members: ['mallory', 'alice'] },
  });

  it('accepts a title of up to 1024 UTF-8 bytes (the bound Signal-Desktop puts on an encrypted title)', () => {
    for (const title of ['', 'lunch', 'x'.repeat(1024), '€'.repeat(341)])
      expect(decodeContent(raw(group(title)))).toEqual(group(title));
  });

  it('refuses a longer title — a 60 KB one too — with a DecodeError, counting UTF-8 bytes', () => {
    // '€' is 3 UTF-8 bytes and 1 UTF-16 unit: 342 of them are 1026 bytes.
    for (const title of ['x'.repeat(1025), '€'.repeat(342), 'y'.repeat(60_000), 7, null])
      expect(() => decodeContent(raw(group(title)))).toThrow(DecodeError);
  });
});
