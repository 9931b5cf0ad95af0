/**
 * libsignal's `DecryptionErrorMessage` ("retry receipt", `proto/service.proto`): what a receiver sends
 * back, unencrypted, when it cannot decrypt a message — the sender's ratchet key of the failed 1:1
 * message (none for sender-key messages), the message's timestamp and the original sender's device id.
 * Byte-identical to libsignal-client 0.103.0: fields written in field-number order (prost), timestamp
 * and device id always present, the ratchet key only for whisper and prekey originals.
 *
 * Parsing follows libsignal's rules (timestamp required, absent device id reads 0, unknown fields
 * skipped, the last of a repeated field wins) and is stricter in three ways that libsignal never
 * produces: the ratchet key must be exactly 33 bytes, a device id must fit 32 bits (prost truncates),
 * and a timestamp must be a safe JavaScript integer (below 2^53 ms, the year 287396).
 */
import { assertBytes, DecodeError, ProtoReader, ProtoWriter, PublicKey, WireType } from '@e2ee-kit/core';
import { brandClass, classBrand, fromOtherCopy } from '../other-copy.js';
import { PreKeySignalMessage, SignalMessage } from '../wire.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const BRAND = classBrand('DecryptionErrorMessage');

/**
 * libsignal's `CiphertextMessageType` numbers of the message that failed (they travel outside the
 * message, e.g. in Signal's envelope). Only whisper and prekey messages carry a ratchet key.
 */
export const FailedMessageType = { Whisper: 2, PreKey: 3, SenderKey: 7, Plaintext: 8 } as const;
export type FailedMessageType = (typeof FailedMessageType)[keyof typeof FailedMessageType];

/**
 * Largest serialized `DecryptionErrorMessage` we parse. libsignal's are at most 52 bytes (ratchet key
 * 2 + 33, timestamp 1 + 10, device id 1 + 5); the rest leaves room for fields a later version adds.
 */
export const MAX_DECRYPTION_ERROR_MESSAGE_LENGTH = 1024;

const MAX_UINT32 = 0xffff_ffff;

export interface DecryptionErrorMessageFields {
  /** The sender ratchet key of the failed whisper / prekey message; `undefined` for a sender-key message. */
  readonly ratchetKey: PublicKey | undefined;
  /** Timestamp (ms since the epoch) of the message that failed, as its envelope gave it. */
  readonly timestamp: number;
  /** Device id of the failed message's sender (libsignal: absent reads 0). */
  readonly deviceId: number;
}

export class DecryptionErrorMessage implements DecryptionErrorMessageFields {
  readonly ratchetKey: PublicKey | undefined;
  readonly timestamp: number;
  readonly deviceId: number;
  readonly #serialized: Uint8Array;

  private constructor(fields: DecryptionErrorMessageFields, serialized: Uint8Array) {
    this.ratchetKey = fields.ratchetKey;
    this.timestamp = fields.timestamp;
    this.deviceId = fields.deviceId;
    this.#serialized = serialized;
    Object.freeze(this);
  }

  /**
   * libsignal's `DecryptionErrorMessage.forOriginal`: the retry receipt for a message of `type` that
   * could not be decrypted. Whisper and prekey bytes are parsed (malformed ones are a `DecodeError`,
   * as in libsignal) to take the sender ratchet key; sender-key bytes are not examined; a plaintext
   * type is a `RangeError` (it was never encrypted, so there is nothing to retry).
   */
  static forOriginal(
    originalBytes: Uint8Array,
    type: FailedMessageType,
    timestamp: number,
    originalSenderDeviceId: number,
  ): DecryptionErrorMessage {
    assertBytes(originalBytes, 'original message');
    checkTimestamp(timestamp);
    checkDeviceId(originalSenderDeviceId);
    let ratchetKey: PublicKey | undefined;
    switch (type) {
      // Parsed from a copy: the wire codecs copy with `slice()`, which is a view for a Node `Buffer`.
      case FailedMessageType.Whisper:
        ratchetKey = SignalMessage.deserialize(new Uint8Array(originalBytes)).ratchetKey;
        break;
      case FailedMessageType.PreKey:
        ratchetKey = PreKeySignalMessage.deserialize(new Uint8Array(originalBytes)).message.ratchetKey;
        break;
      case FailedMessageType.SenderKey:
        break;
      case FailedMessageType.Plaintext:
        throw new RangeError('a plaintext message was not encrypted: it needs no DecryptionErrorMessage');
      default:
        throw new RangeError('type must be 2 (whisper), 3 (prekey), 7 (sender key) or 8 (plaintext)');
    }
    return DecryptionErrorMessage.#create({ ratchetKey, timestamp, deviceId: originalSenderDeviceId });
  }

  static #create(fields: DecryptionErrorMessageFields): DecryptionErrorMessage {
    const w = new ProtoWriter();
    if (fields.ratchetKey) w.bytes(1, fields.ratchetKey.serialize());
    w.uint64(2, fields.timestamp);
    w.uint32(3, fields.deviceId);
    return new DecryptionErrorMessage(fields, w.finish());
  }

  /** libsignal's `DecryptionErrorMessage.deserialize`. Malformed bytes are a `DecodeError`. */
  static deserialize(bytes: Uint8Array): DecryptionErrorMessage {
    assertBytes(bytes, 'DecryptionErrorMessage');
    if (bytes.length > MAX_DECRYPTION_ERROR_MESSAGE_LENGTH)
      throw new DecodeError('DecryptionErrorMessage is too long');
    // `new Uint8Array(x)` copies; `Buffer#slice` would return a view of the caller's (pooled) memory.
    const own = new Uint8Array(bytes);
    const r = new ProtoReader(own);
    let ratchetKey: Uint8Array | undefined;
    let timestamp: bigint | undefined;
    let deviceId = 0;
    for (let h = r.next(); h; h = r.next()) {
      switch (h.field) {
        case 1:
          r.expect(h, WireType.LengthDelimited);
          ratchetKey = r.bytes();
          break;
        case 2:
          r.expect(h, WireType.Varint);
          timestamp = r.uint64();
          break;
        case 3:
          r.expect(h, WireType.Varint);
          deviceId = r.uint32Truncated(); // prost's decision: libsignal parses these too
          break;
        default:
          r.skip(h.wireType);
      }
    }
    if (timestamp === undefined) throw new DecodeError('DecryptionErrorMessage has no timestamp');
    if (timestamp > BigInt(Number.MAX_SAFE_INTEGER))
      throw new DecodeError('DecryptionErrorMessage timestamp is out of range');
    const fields = {
      ratchetKey: ratchetKey === undefined ? undefined : PublicKey.deserialize(ratchetKey),
      timestamp: Number(timestamp),
      deviceId,
    };
    return new DecryptionErrorMessage(fields, own);
  }

  /**
   * libsignal's `DecryptionErrorMessage.extractFromSerializedBody`: the message inside the body of a
   * `PlaintextContent` (a `Content` protobuf with field 8, then the `0x80` padding marker).
   */
  static extractFromSerializedBody(body: Uint8Array): DecryptionErrorMessage {
    assertBytes(body, 'PlaintextContent body');
    // Bounded by the largest PlaintextContent we accept (marker, Content key and length, message).
    if (body.length > MAX_DECRYPTION_ERROR_MESSAGE_LENGTH + 8)
      throw new DecodeError('PlaintextContent body is too long');
    if (body.length === 0 || body[body.length - 1] !== PADDING_BOUNDARY_BYTE)
      throw new DecodeError('PlaintextContent body does not end with the padding marker');
    const r = new ProtoReader(new Uint8Array(body.subarray(0, body.length - 1)));
    let inner: Uint8Array | undefined;
    for (let h = r.next(); h; h = r.next()) {
      // Content's fields 1..8 are all `bytes`; prost refuses any other wire type for them.
      if (h.field <= 8) r.expect(h, WireType.LengthDelimited);
      if (h.field === 8) inner = r.bytes();
      else r.skip(h.wireType);
    }
    if (inner === undefined) throw new DecodeError('Content does not contain a DecryptionErrorMessage');
    return DecryptionErrorMessage.deserialize(inner);
  }

  /** The exact bytes (as received, or as libsignal would write them). */
  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  toString(): string {
    return `[DecryptionErrorMessage ${this.ratchetKey ? '1:1' : 'sender key'} device ${this.deviceId} @${this.timestamp}]`;
  }
  [INSPECT](): string {
    return this.toString();
  }
}

brandClass(DecryptionErrorMessage, BRAND);

/**
 * `value` as this copy's `DecryptionErrorMessage`: itself, or another copy's (an app that loads two
 * copies of this package) read through its `serialize()` (`DecodeError` if that is not one).
 */
export function ownDecryptionErrorMessage(value: unknown, refusal: string): DecryptionErrorMessage {
  const own = fromOtherCopy(
    value,
    DecryptionErrorMessage,
    BRAND,
    'DecryptionErrorMessage',
    MAX_DECRYPTION_ERROR_MESSAGE_LENGTH,
  );
  if (own === undefined) throw new TypeError(refusal);
  return own;
}

/** libsignal's `PlaintextContent::PADDING_BOUNDARY_BYTE`: ends the content (no padding follows). */
export const PADDING_BOUNDARY_BYTE = 0x80;

function checkTimestamp(timestamp: number): void {
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp))
    throw new TypeError('timestamp must be a safe integer (ms since the epoch)');
  if (timestamp < 0) throw new RangeError('timestamp must not be negative');
}

function checkDeviceId(deviceId: number): void {
  if (typeof deviceId !== 'number' || !Number.isInteger(deviceId))
    throw new TypeError('device id must be an integer');
  if (deviceId < 0 || deviceId > MAX_UINT32) throw new RangeError('device id must fit 32 bits');
}
