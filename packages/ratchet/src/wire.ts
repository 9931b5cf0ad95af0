/**
 * Wire codecs for libsignal's `SignalMessage` and `PreKeySignalMessage` (spec §4). Both start with a
 * version byte `(sessionVersion << 4) | 4`; encoders write protobuf fields in field-number order, as
 * libsignal (prost) does. Malformed input of any kind is a `DecodeError`.
 */
import { assertBytes, copyBytes, DecodeError, PublicKey } from '@e2ee-kit/core';
import { CURRENT_VERSION, SESSION_VERSION_PQXDH, SESSION_VERSION_X3DH } from './constants.js';
import { RatchetErrorCode } from './errors.js';
import { FastReader, FastWriter } from './records/fast-proto.js';

export const MAC_LENGTH = 8;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

function checkVersion(byte: number): number {
  const v = byte >> 4;
  if (v < SESSION_VERSION_X3DH)
    throw new DecodeError('legacy ciphertext version', { code: RatchetErrorCode.LegacyCiphertextVersion });
  if (v > SESSION_VERSION_PQXDH)
    throw new DecodeError('unrecognized ciphertext version', {
      code: RatchetErrorCode.UnrecognizedCiphertextVersion,
    });
  return v;
}

export interface SignalMessageFields {
  readonly messageVersion: number;
  readonly ratchetKey: PublicKey;
  readonly counter: number;
  readonly previousCounter: number;
  readonly ciphertext: Uint8Array;
  /** SPQR message (§5.4); empty when absent. */
  readonly pqRatchet: Uint8Array;
  /** The 36-byte `addresses` field (0.91+), if present. */
  readonly addresses: Uint8Array | undefined;
}

/** A `SignalMessage` ("whisper"): `version ‖ protobuf ‖ MAC(8)`. */
export class SignalMessage implements SignalMessageFields {
  readonly messageVersion: number;
  readonly ratchetKey: PublicKey;
  readonly counter: number;
  readonly previousCounter: number;
  readonly ciphertext: Uint8Array;
  readonly pqRatchet: Uint8Array;
  readonly addresses: Uint8Array | undefined;
  readonly #serialized: Uint8Array;

  private constructor(fields: SignalMessageFields, serialized: Uint8Array) {
    this.messageVersion = fields.messageVersion;
    this.ratchetKey = fields.ratchetKey;
    this.counter = fields.counter;
    this.previousCounter = fields.previousCounter;
    this.ciphertext = fields.ciphertext;
    this.pqRatchet = fields.pqRatchet;
    this.addresses = fields.addresses;
    this.#serialized = serialized;
  }

  /**
   * @internal Encodes the message and appends `mac(serializedWithoutMac)` (the caller computes the
   * 8-byte MAC over `senderIdentity ‖ receiverIdentity ‖ bytes`).
   */
  static async create(
    fields: SignalMessageFields,
    mac: (bytesWithoutMac: Uint8Array) => Uint8Array | Promise<Uint8Array>,
  ): Promise<SignalMessage> {
    const w = new FastWriter(fields.ciphertext.length + 160);
    w.bytes(1, fields.ratchetKey.serialize());
    w.uint(2, fields.counter);
    w.uint(3, fields.previousCounter);
    w.bytes(4, fields.ciphertext);
    if (fields.pqRatchet.length > 0) w.bytes(5, fields.pqRatchet);
    if (fields.addresses) w.bytes(6, fields.addresses);
    const bodyLength = w.pos;
    const full = w.finish(Uint8Array.of(((fields.messageVersion & 0xf) << 4) | CURRENT_VERSION), MAC_LENGTH);
    const tag = await mac(full.subarray(0, 1 + bodyLength));
    full.set(tag.subarray(0, MAC_LENGTH), 1 + bodyLength);
    return new SignalMessage(fields, full);
  }

  static deserialize(bytes: Uint8Array): SignalMessage {
    assertBytes(bytes, 'message');
    if (bytes.length < MAC_LENGTH + 1) throw new DecodeError('SignalMessage is too short');
    const messageVersion = checkVersion(bytes[0] as number);
    const own = copyBytes(bytes);
    const r = new FastReader(own, 1, own.length - MAC_LENGTH);
    let ratchetKey: Uint8Array | undefined;
    let counter: number | undefined;
    let previousCounter = 0;
    let ciphertext: Uint8Array | undefined;
    let pqRatchet: Uint8Array = new Uint8Array(0);
    let addresses: Uint8Array | undefined;
    while (r.next()) {
      switch (r.field) {
        case 1:
          ratchetKey = r.bytes();
          break;
        case 2:
          counter = r.uint32();
          break;
        case 3:
          previousCounter = r.uint32();
          break;
        case 4:
          ciphertext = r.bytes();
          break;
        case 5:
          pqRatchet = r.bytes();
          break;
        case 6:
          addresses = r.bytes();
          break;
        default:
          r.skip();
      }
    }
    if (!ratchetKey || counter === undefined || !ciphertext)
      throw new DecodeError('SignalMessage is missing a field');
    const fields = {
      messageVersion,
      ratchetKey: PublicKey.deserialize(ratchetKey),
      counter,
      previousCounter,
      ciphertext,
      pqRatchet,
      addresses,
    };
    return new SignalMessage(fields, own);
  }

  /** The exact bytes (version, protobuf, MAC). */
  serialize(): Uint8Array {
    return copyBytes(this.#serialized);
  }

  /** @internal Not copied. */
  get serializedView(): Uint8Array {
    return this.#serialized;
  }

  /** The MAC'd part (everything before the last 8 bytes). */
  get macInput(): Uint8Array {
    return this.#serialized.subarray(0, this.#serialized.length - MAC_LENGTH);
  }

  get mac(): Uint8Array {
    return this.#serialized.subarray(this.#serialized.length - MAC_LENGTH);
  }

  toString(): string {
    return `[SignalMessage v${this.messageVersion} #${this.counter}]`;
  }
  [INSPECT](): string {
    return this.toString();
  }
}

export interface PreKeySignalMessageFields {
  readonly messageVersion: number;
  readonly registrationId: number;
  readonly preKeyId: number | undefined;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number | undefined;
  readonly kyberCiphertext: Uint8Array | undefined;
  readonly baseKey: PublicKey;
  readonly identityKey: PublicKey;
  readonly message: SignalMessage;
}

/** A `PreKeySignalMessage`: `version ‖ protobuf` wrapping the first `SignalMessage`s of a session. */
export class PreKeySignalMessage implements PreKeySignalMessageFields {
  readonly messageVersion: number;
  readonly registrationId: number;
  readonly preKeyId: number | undefined;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number | undefined;
  readonly kyberCiphertext: Uint8Array | undefined;
  readonly baseKey: PublicKey;
  readonly identityKey: PublicKey;
  readonly message: SignalMessage;
  readonly #serialized: Uint8Array;

  private constructor(fields: PreKeySignalMessageFields, serialized: Uint8Array) {
    this.messageVersion = fields.messageVersion;
    this.registrationId = fields.registrationId;
    this.preKeyId = fields.preKeyId;
    this.signedPreKeyId = fields.signedPreKeyId;
    this.kyberPreKeyId = fields.kyberPreKeyId;
    this.kyberCiphertext = fields.kyberCiphertext;
    this.baseKey = fields.baseKey;
    this.identityKey = fields.identityKey;
    this.message = fields.message;
    this.#serialized = serialized;
  }

  /** @internal */
  static create(fields: PreKeySignalMessageFields): PreKeySignalMessage {
    const w = new FastWriter(
      fields.message.serializedView.length + (fields.kyberCiphertext?.length ?? 0) + 128,
    );
    if (fields.preKeyId !== undefined) w.uint(1, fields.preKeyId);
    w.bytes(2, fields.baseKey.serialize());
    w.bytes(3, fields.identityKey.serialize());
    w.bytes(4, fields.message.serializedView);
    w.uint(5, fields.registrationId);
    w.uint(6, fields.signedPreKeyId);
    if (fields.kyberPreKeyId !== undefined && fields.kyberCiphertext) {
      w.uint(7, fields.kyberPreKeyId);
      w.bytes(8, fields.kyberCiphertext);
    }
    const out = w.finish(Uint8Array.of(((fields.messageVersion & 0xf) << 4) | CURRENT_VERSION));
    return new PreKeySignalMessage(fields, out);
  }

  static deserialize(bytes: Uint8Array): PreKeySignalMessage {
    assertBytes(bytes, 'message');
    if (bytes.length === 0) throw new DecodeError('PreKeySignalMessage is empty');
    const messageVersion = checkVersion(bytes[0] as number);
    const own = copyBytes(bytes);
    const r = new FastReader(own, 1);
    let preKeyId: number | undefined;
    let baseKey: Uint8Array | undefined;
    let identityKey: Uint8Array | undefined;
    let message: Uint8Array | undefined;
    let registrationId = 0;
    let signedPreKeyId: number | undefined;
    let kyberPreKeyId: number | undefined;
    let kyberCiphertext: Uint8Array | undefined;
    while (r.next()) {
      switch (r.field) {
        case 1:
          preKeyId = r.uint32();
          break;
        case 2:
          baseKey = r.bytes();
          break;
        case 3:
          identityKey = r.bytes();
          break;
        case 4:
          message = r.bytes();
          break;
        case 5:
          registrationId = r.uint32();
          break;
        case 6:
          signedPreKeyId = r.uint32();
          break;
        case 7:
          kyberPreKeyId = r.uint32();
          break;
        case 8:
          kyberCiphertext = r.bytes();
          break;
        default:
          r.skip();
      }
    }
    if (signedPreKeyId === undefined || !baseKey || !identityKey || !message)
      throw new DecodeError('PreKeySignalMessage is missing a field');
    if ((kyberPreKeyId === undefined) !== (kyberCiphertext === undefined))
      throw new DecodeError('PreKeySignalMessage has an incomplete Kyber part');
    const inner = SignalMessage.deserialize(message);
    if (inner.messageVersion !== messageVersion)
      throw new DecodeError('PreKeySignalMessage and its inner message have different versions');
    const fields: PreKeySignalMessageFields = {
      messageVersion,
      registrationId,
      preKeyId,
      signedPreKeyId,
      kyberPreKeyId,
      kyberCiphertext,
      baseKey: PublicKey.deserialize(baseKey),
      identityKey: PublicKey.deserialize(identityKey),
      message: inner,
    };
    return new PreKeySignalMessage(fields, own);
  }

  serialize(): Uint8Array {
    return copyBytes(this.#serialized);
  }

  /** @internal Not copied. */
  get serializedView(): Uint8Array {
    return this.#serialized;
  }

  toString(): string {
    return `[PreKeySignalMessage v${this.messageVersion}]`;
  }
  [INSPECT](): string {
    return this.toString();
  }
}
