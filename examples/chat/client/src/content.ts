/**
 * What travels inside the encryption: a small JSON document. The relay never sees any of it.
 * Decoding is strict: anything that is not one of these shapes is refused with a `DecodeError` (and
 * reported as content this client does not understand) instead of reaching the UI.
 */
import { DecodeError } from '@e2ee-kit/core';
import { type AttachmentPointer, isAttachmentPointer } from './attachments.js';

export interface GroupInfo {
  readonly id: string;
  readonly title: string;
  readonly admin: string;
  readonly members: readonly string[];
}

/** At most this many contacts in one sync (the contact list's own cap). */
const MAX_SYNCED_CONTACTS = 1000;

export type Content =
  | {
      readonly t: 'text';
      readonly id: string;
      readonly text: string;
      readonly sentAt: number;
      /** A group text: normally sender-key encrypted; sent pairwise when re-sent on request. */
      readonly group?: string;
      /** Set on a pairwise re-send: the sender-key position the original was sent at. */
      readonly resent?: { readonly chain: number; readonly iteration: number };
      /** On a sync copy to our own other devices: the contact it was sent to. */
      readonly to?: string;
    }
  /** A photo: the pointer to its encrypted blob on the relay (key and digest included). */
  | {
      readonly t: 'attachment';
      readonly id: string;
      readonly attachment: AttachmentPointer;
      readonly sentAt: number;
      readonly group?: string;
      readonly resent?: { readonly chain: number; readonly iteration: number };
      /** On a sync copy to our own other devices: the contact it was sent to. */
      readonly to?: string;
    }
  | { readonly t: 'group'; readonly group: GroupInfo }
  | { readonly t: 'skdm'; readonly group: string; readonly skdm: string }
  /** "I could not decrypt your group message at (chain, iteration): send your key and the message." */
  | { readonly t: 'resend'; readonly group: string; readonly chain: number; readonly iteration: number }
  /** The answer to a group invitation: to the inviter when declined, to every member when accepted. */
  | { readonly t: 'invite-answer'; readonly group: string; readonly accepted: boolean }
  /** From another device of our own account: its contact list and who-can-add-me setting (a sync). */
  | { readonly t: 'contacts'; readonly contacts: readonly string[]; readonly whoCanAddMe: unknown }
  /** Delivery or read receipt for texts of a 1:1 chat (by message id), end-to-end encrypted. */
  | { readonly t: 'receipt'; readonly kind: 'delivered' | 'read'; readonly ids: readonly string[] }
  | { readonly t: 'hello' };

/** The contents shown as a message in a conversation. */
export type MessageContent = Extract<Content, { t: 'text' | 'attachment' }>;
export const isMessageContent = (c: Content): c is MessageContent => c.t === 'text' || c.t === 'attachment';

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const MAX_TEXT = 16 * 1024;
/** Receipts are batched per contact; a batch stays small. */
export const MAX_RECEIPT_IDS = 100;

export function encodeContent(c: Content): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

const isStr = (v: unknown, max = 256): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/** Largest time a JavaScript Date holds (ECMA-262 21.4.1.1). */
const MAX_DATE_MS = 8.64e15;
/**
 * A sender's clock reading in ms: shown as a date, so only what a Date holds — the UI's
 * `toISOString()` throws a RangeError on anything else, on every render of that chat.
 */
const isTime = (v: unknown): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= MAX_DATE_MS;

/**
 * A received group title: at most 1024 UTF-8 bytes, the bound Signal-Desktop puts on a group's
 * encrypted title (GROUP_TITLE_MAX_ENCRYPTED_BYTES). Every member stores it and shows it in the chat
 * list, the invitation and the notes, so an unbounded one (60 KB from any inviter) cost all of them.
 */
export const MAX_GROUP_TITLE_BYTES = 1024;
/** What the app lets one type (Signal-Desktop's GroupTitleInput: maxLengthCount={32}). */
export const MAX_GROUP_TITLE_GRAPHEMES = 32;

export function isGroupTitle(v: unknown): v is string {
  // Each UTF-16 unit is at least one UTF-8 byte: the length alone refuses a huge title unencoded.
  return (
    typeof v === 'string' &&
    v.length <= MAX_GROUP_TITLE_BYTES &&
    enc.encode(v).length <= MAX_GROUP_TITLE_BYTES
  );
}

/** Throws a RangeError unless `title` is one this client may create (and every member accepts). */
export function checkNewGroupTitle(title: string): void {
  if (typeof title !== 'string') throw new TypeError('a group title is a string');
  if (!isGroupTitle(title))
    throw new RangeError(`a group title is at most ${MAX_GROUP_TITLE_BYTES} UTF-8 bytes`);
  let graphemes = 0;
  for (const _ of new Intl.Segmenter(undefined, { granularity: 'grapheme' }).segment(title)) graphemes++;
  if (graphemes > MAX_GROUP_TITLE_GRAPHEMES) {
    throw new RangeError(`a group title is at most ${MAX_GROUP_TITLE_GRAPHEMES} characters`);
  }
}

function isPosition(v: unknown): v is { chain: number; iteration: number } {
  if (v === null || typeof v !== 'object') return false;
  const { chain, iteration } = v as Record<string, unknown>;
  return [chain, iteration].every(
    (n) => typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 0xffffffff,
  );
}

export function decodeContent(bytes: Uint8Array): Content {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(dec.decode(bytes)) as Record<string, unknown>;
  } catch {
    throw new DecodeError('content is not UTF-8 JSON');
  }
  if (v === null || typeof v !== 'object') throw new DecodeError('content must be an object');
  switch (v['t']) {
    case 'text':
      if (!isStr(v['id'], 64) || typeof v['text'] !== 'string' || v['text'].length > MAX_TEXT) break;
      if (!isTime(v['sentAt']) || (v['group'] !== undefined && !isStr(v['group'], 64))) break;
      if (v['resent'] !== undefined && !isPosition(v['resent'])) break;
      if (v['to'] !== undefined && !isStr(v['to'], 32)) break;
      return v as Content;
    case 'attachment':
      if (!isStr(v['id'], 64) || !isAttachmentPointer(v['attachment']) || !isTime(v['sentAt'])) break;
      if (v['group'] !== undefined && !isStr(v['group'], 64)) break;
      if (v['resent'] !== undefined && !isPosition(v['resent'])) break;
      if (v['to'] !== undefined && !isStr(v['to'], 32)) break;
      return v as Content;
    case 'group': {
      const g = v['group'] as Record<string, unknown> | null;
      if (!g || !isStr(g['id'], 64) || !isGroupTitle(g['title']) || !isStr(g['admin'], 32)) break;
      const members = g['members'];
      if (!Array.isArray(members) || members.length > 100 || !members.every((m) => isStr(m, 32))) break;
      return v as Content;
    }
    case 'skdm':
      if (isStr(v['group'], 64) && isStr(v['skdm'], 4096)) return v as Content;
      break;
    case 'resend':
      if (isStr(v['group'], 64) && isPosition({ chain: v['chain'], iteration: v['iteration'] }))
        return v as Content;
      break;
    case 'invite-answer':
      if (isStr(v['group'], 64) && typeof v['accepted'] === 'boolean')
        return { t: 'invite-answer', group: v['group'], accepted: v['accepted'] };
      break;
    case 'contacts': {
      // The setting is checked where it is applied (checkWhoCanAddMe); here only the shape and size.
      const list = v['contacts'];
      if (!Array.isArray(list) || list.length > MAX_SYNCED_CONTACTS || !list.every((c) => isStr(c, 32)))
        break;
      if (v['whoCanAddMe'] === undefined) break;
      return { t: 'contacts', contacts: [...(list as string[])], whoCanAddMe: v['whoCanAddMe'] };
    }
    case 'receipt': {
      const ids = v['ids'];
      if (v['kind'] !== 'delivered' && v['kind'] !== 'read') break;
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RECEIPT_IDS) break;
      if (!ids.every((id) => isStr(id, 64))) break;
      return { t: 'receipt', kind: v['kind'], ids: [...(ids as string[])] };
    }
    case 'hello':
      return { t: 'hello' };
  }
  throw new DecodeError('unknown or malformed content');
}
