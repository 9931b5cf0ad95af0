/**
 * `UnidentifiedSenderMessageContent` (USMC): what a sealed envelope carries. Wire format
 * (`UnidentifiedSenderMessage.Message`): 1 type (enum), 2 senderCertificate (bytes), 3 content (bytes),
 * 4 contentHint (enum, omitted for Default), 5 groupId (bytes, omitted when absent or empty).
 * The content is opaque here: a ratchet message, a sender-key message or a plaintext content, which
 * the app hands to `SessionCipher` / `GroupCipher` after opening.
 */
import { assertBytes, DecodeError, ProtoReader, ProtoWriter, WireType } from '@e2ee-kit/core';
import { MAX_SEALED_MESSAGE_LENGTH } from './constants.js';
import { brandClass, classBrand, fromOtherCopy } from './other-copy.js';
import { redact } from './redact.js';
import { ownSenderCertificate, SenderCertificate } from './sender-certificate.js';
import { checkInputLength } from './wire.js';

/** What the content is: the same names as ratchet's wire messages, plus sender keys and plaintext. */
export type SealedContentType = 'prekey' | 'whisper' | 'senderkey' | 'plaintext';

/** libsignal's `CiphertextMessageType` numbers for each content type (`msgType()` in libsignal-client). */
export const CIPHERTEXT_MESSAGE_TYPE: Readonly<Record<SealedContentType, number>> = Object.freeze({
  whisper: 2,
  prekey: 3,
  senderkey: 7,
  plaintext: 8,
});

/** Wire values of the USMC `type` field (PreKey is 1 on the wire but 3 in libsignal's API). */
const WIRE_TYPE: Readonly<Record<SealedContentType, number>> = {
  prekey: 1,
  whisper: 2,
  senderkey: 7,
  plaintext: 8,
};
const FROM_WIRE = new Map<number, SealedContentType>([
  [1, 'prekey'],
  [2, 'whisper'],
  [7, 'senderkey'],
  [8, 'plaintext'],
]);

/**
 * Content hints (what the receiver should do if it cannot decrypt the content): Default — show an
 * error now; Resendable — the sender will resend, delay the error; Implicit — show nothing (typing
 * indicators, receipts). Other numbers are carried as they are.
 */
export const ContentHint = Object.freeze({ Default: 0, Resendable: 1, Implicit: 2 } as const);

export interface ContentFields {
  readonly type: SealedContentType;
  readonly senderCertificate: SenderCertificate;
  /** The inner message bytes (copied). */
  readonly content: Uint8Array;
  /** Default 0 (`ContentHint.Default`); any uint32. */
  readonly contentHint?: number;
  /** The group id for group messages (copied); empty counts as none. */
  readonly groupId?: Uint8Array | undefined;
}

const INTERNAL = Symbol('internal');
const CONTENT = classBrand('UnidentifiedSenderMessageContent');
/** Serialized bytes per object, not copied: what the sealers encrypt (module-internal). */
const views = new WeakMap<UnidentifiedSenderMessageContent, Uint8Array>();

/** The serialized bytes of `usmc` without a copy; `TypeError` if it is not one. Not exported by the package. */
export function serializedContent(usmc: unknown): Uint8Array {
  const v = usmc instanceof UnidentifiedSenderMessageContent ? views.get(usmc) : undefined;
  if (v === undefined) throw new TypeError('content must be an UnidentifiedSenderMessageContent');
  return v;
}

export class UnidentifiedSenderMessageContent {
  readonly type: SealedContentType;
  readonly senderCertificate: SenderCertificate;
  readonly contentHint: number;
  readonly #content: Uint8Array;
  readonly #groupId: Uint8Array | undefined;
  readonly #serialized: Uint8Array;

  private constructor(
    token: typeof INTERNAL,
    p: {
      type: SealedContentType;
      senderCertificate: SenderCertificate;
      content: Uint8Array;
      contentHint: number;
      groupId: Uint8Array | undefined;
      serialized: Uint8Array;
    },
  ) {
    if (token !== INTERNAL)
      throw new TypeError(
        'use UnidentifiedSenderMessageContent.create or UnidentifiedSenderMessageContent.deserialize',
      );
    this.type = p.type;
    this.senderCertificate = p.senderCertificate;
    this.contentHint = p.contentHint;
    this.#content = p.content;
    this.#groupId = p.groupId;
    this.#serialized = p.serialized;
    views.set(this, p.serialized);
    Object.freeze(this);
  }

  static create(fields: ContentFields): UnidentifiedSenderMessageContent {
    if (fields === null || typeof fields !== 'object') throw new TypeError('fields must be an object');
    const { type } = fields;
    if (typeof type !== 'string' || !Object.hasOwn(WIRE_TYPE, type))
      throw new TypeError("type must be 'prekey', 'whisper', 'senderkey' or 'plaintext'");
    // A certificate of either copy of the package (an app that loads two): the other's is read as ours.
    const senderCertificate = ownSenderCertificate(fields.senderCertificate, 'senderCertificate');
    assertBytes(fields.content, 'content');
    const hint = fields.contentHint ?? ContentHint.Default;
    if (!Number.isInteger(hint) || hint < 0 || hint > 0xffffffff)
      throw new RangeError('contentHint must be a uint32');
    if (fields.groupId !== undefined) assertBytes(fields.groupId, 'groupId');
    // The caller's content is too large to send (a RangeError, as the sealers say), not malformed
    // bytes; refused before it is copied.
    const tooLarge = () =>
      new RangeError(`sealed content would be larger than ${MAX_SEALED_MESSAGE_LENGTH} bytes`);
    if (fields.content.length + (fields.groupId?.length ?? 0) > MAX_SEALED_MESSAGE_LENGTH) throw tooLarge();
    const content = new Uint8Array(fields.content);
    const groupId = fields.groupId === undefined ? undefined : new Uint8Array(fields.groupId);
    const w = new ProtoWriter()
      .uint32(1, WIRE_TYPE[type])
      .bytes(2, senderCertificate.serialize())
      .bytes(3, content);
    // The field is a protobuf enum (int32): libsignal writes hints of 2^31 and above as negative
    // numbers, i.e. sign-extended 10-byte varints; so do we.
    if (hint !== ContentHint.Default)
      w.uint64(4, hint < 0x80000000 ? BigInt(hint) : BigInt(hint) + 0xffffffff00000000n);
    if (groupId !== undefined && groupId.length > 0) w.bytes(5, groupId);
    const serialized = w.finish();
    if (serialized.length > MAX_SEALED_MESSAGE_LENGTH) throw tooLarge();
    return new UnidentifiedSenderMessageContent(INTERNAL, {
      type,
      senderCertificate,
      content,
      contentHint: hint,
      groupId,
      serialized,
    });
  }

  /** Parses libsignal's serialization; the certificate must parse but is not validated here. */
  static deserialize(bytes: Uint8Array): UnidentifiedSenderMessageContent {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
    checkInputLength(bytes, 'sealed content');
    const serialized = new Uint8Array(bytes); // a plain copy (a Buffer's slice() would be a view)
    const r = new ProtoReader(serialized);
    let wireType: number | undefined;
    let cert: Uint8Array | undefined;
    let content: Uint8Array | undefined;
    let hint: number | undefined;
    let groupId: Uint8Array | undefined;
    for (let h = r.next(); h; h = r.next()) {
      switch (h.field) {
        case 1:
          r.expect(h, WireType.Varint);
          wireType = r.uint32Truncated();
          break;
        case 2:
          r.expect(h, WireType.LengthDelimited);
          cert = r.bytes();
          break;
        case 3:
          r.expect(h, WireType.LengthDelimited);
          content = r.bytes();
          break;
        case 4:
          r.expect(h, WireType.Varint);
          hint = r.uint32Truncated();
          break;
        case 5:
          r.expect(h, WireType.LengthDelimited);
          groupId = r.bytes();
          break;
        default:
          r.skip(h.wireType);
      }
    }
    const type = wireType === undefined ? undefined : FROM_WIRE.get(wireType);
    if (type === undefined) throw new DecodeError('sealed content has no valid message type');
    if (cert === undefined) throw new DecodeError('sealed content has no sender certificate');
    if (content === undefined) throw new DecodeError('sealed content has no content');
    const senderCertificate = SenderCertificate.deserialize(cert);
    return new UnidentifiedSenderMessageContent(INTERNAL, {
      type,
      senderCertificate,
      content,
      contentHint: hint ?? ContentHint.Default,
      groupId,
      serialized,
    });
  }

  /** libsignal's `CiphertextMessageType` number of the content (2, 3, 7 or 8). */
  get ciphertextMessageType(): number {
    return CIPHERTEXT_MESSAGE_TYPE[this.type];
  }

  /** The inner message bytes (a copy). */
  content(): Uint8Array {
    return this.#content.slice();
  }

  /** The group id (a copy), or undefined. A parsed empty group id is returned as it was received. */
  groupId(): Uint8Array | undefined {
    return this.#groupId?.slice();
  }

  /** The serialized content (a copy): the bytes received, or byte-identical to libsignal's. */
  serialize(): Uint8Array {
    return this.#serialized.slice();
  }
}
redact(UnidentifiedSenderMessageContent.prototype, 'UnidentifiedSenderMessageContent');
brandClass(UnidentifiedSenderMessageContent, CONTENT);

/**
 * `value` as this copy's content: itself, or another copy's read through its serialized form
 * (`DecodeError` if that is not a content); anything else the sealers' `TypeError`.
 */
export function ownContent(value: unknown): UnidentifiedSenderMessageContent {
  const own = fromOtherCopy(
    value,
    UnidentifiedSenderMessageContent,
    CONTENT,
    'UnidentifiedSenderMessageContent',
  );
  if (own === undefined) throw new TypeError('content must be an UnidentifiedSenderMessageContent');
  return own;
}
