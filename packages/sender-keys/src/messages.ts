/**
 * Wire codecs, byte for byte as libsignal (`rust/protocol/src/protocol.rs`, `proto/wire.proto`):
 *
 * - SenderKeyDistributionMessage = `0x33 ‖ protobuf{1: uuid, 2: chain id, 3: iteration, 4: chain key, 5: signing key}`
 * - SenderKeyMessage = `0x33 ‖ protobuf{1: uuid, 2: chain id, 3: iteration, 4: ciphertext} ‖ signature(64)`
 *
 * Fields are written in number order and zero values are still written (proto2 `optional`, always
 * set). Decoders accept any valid protobuf (unknown fields skipped, last occurrence wins, uint32
 * truncated from a 64-bit varint as prost does) and keep the received bytes: the signature is checked
 * over them, never over a re-encoding. Malformed input is always a `DecodeError`.
 */
import {
  assertBytes,
  brandClass,
  copyBytes,
  DecodeError,
  ownValue,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  type ValueClass,
  WireType,
} from '@e2ee-kit/core';
import { CHAIN_KEY_LENGTH, SENDER_KEY_MESSAGE_VERSION, SENDER_KEY_SIGNATURE_LENGTH } from './constants.js';
import { distributionIdFromBytes, distributionIdToBytes } from './uuid.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/** Both messages must be at least this long (SKM: version + signature; SKDM: version + two keys). */
const MIN_LENGTH = 1 + 64;

/** Thrown for a version nibble other than 3; `legacy` is true below 3. Code `DECODE`. */
export class SenderKeyVersionError extends DecodeError {
  readonly version: number;
  readonly legacy: boolean;
  constructor(version: number) {
    super(
      version < SENDER_KEY_MESSAGE_VERSION
        ? `sender key message version was too old <${version}>`
        : `sender key message version was unrecognized <${version}>`,
    );
    this.version = version;
    this.legacy = version < SENDER_KEY_MESSAGE_VERSION;
    this.name = 'SenderKeyVersionError';
  }
}

function checkHeader(bytes: Uint8Array, what: string): number {
  if (bytes.length < MIN_LENGTH) throw new DecodeError(`${what} too short <${bytes.length}>`);
  const version = (bytes[0] as number) >> 4;
  if (version !== SENDER_KEY_MESSAGE_VERSION) throw new SenderKeyVersionError(version);
  return version;
}

function versionByte(messageVersion: number): number {
  return ((messageVersion & 0xf) << 4) | SENDER_KEY_MESSAGE_VERSION;
}

interface WireFields {
  uuid?: Uint8Array;
  chainId?: number;
  iteration?: number;
  f4?: Uint8Array;
  f5?: Uint8Array;
}

function readFields(bytes: Uint8Array, withField5: boolean): WireFields {
  const r = new ProtoReader(bytes);
  const out: WireFields = {};
  for (let h = r.next(); h; h = r.next()) {
    switch (h.field) {
      case 1:
        r.expect(h, WireType.LengthDelimited);
        out.uuid = r.bytes();
        break;
      case 2:
        r.expect(h, WireType.Varint);
        out.chainId = r.uint32Truncated();
        break;
      case 3:
        r.expect(h, WireType.Varint);
        out.iteration = r.uint32Truncated();
        break;
      case 4:
        r.expect(h, WireType.LengthDelimited);
        out.f4 = r.bytes();
        break;
      case 5:
        if (withField5) {
          r.expect(h, WireType.LengthDelimited);
          out.f5 = r.bytes();
          break;
        }
        r.skip(h.wireType);
        break;
      default:
        r.skip(h.wireType);
    }
  }
  return out;
}

/** Fields both messages carry, in the same protobuf numbers (1: uuid, 2: chain id, 3: iteration). */
interface Header {
  readonly messageVersion: number;
  readonly distributionId: string;
  readonly chainId: number;
  readonly iteration: number;
}

abstract class WireMessage implements Header {
  readonly messageVersion: number;
  readonly distributionId: string;
  readonly chainId: number;
  readonly iteration: number;
  protected readonly serialized: Uint8Array;

  protected constructor(header: Header, serialized: Uint8Array) {
    this.messageVersion = header.messageVersion;
    this.distributionId = header.distributionId;
    this.chainId = header.chainId;
    this.iteration = header.iteration;
    this.serialized = serialized;
  }

  /** The wire bytes (a copy). */
  serialize(): Uint8Array {
    return this.serialized.slice();
  }

  protected abstract describe(): string;

  toString(): string {
    return `[${this.describe()} ${this.distributionId} chain ${this.chainId} iteration ${this.iteration}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}

function header(version: number, f: WireFields): Header {
  return {
    messageVersion: version,
    distributionId: distributionIdFromBytes(f.uuid as Uint8Array),
    chainId: f.chainId as number,
    iteration: f.iteration as number,
  };
}

/**
 * The message a sender hands to each member over a pairwise session so the member can decrypt and
 * verify the sender's group messages. It has no signature and no MAC: it is exactly as trustworthy
 * as the pairwise session that carried it.
 */
export class SenderKeyDistributionMessage extends WireMessage {
  readonly signingKey: PublicKey;
  readonly #chainKey: Uint8Array;

  private constructor(h: Header, chainKey: Uint8Array, signingKey: PublicKey, serialized: Uint8Array) {
    super(h, serialized);
    this.#chainKey = chainKey;
    this.signingKey = signingKey;
  }

  /** Builds and encodes a message (libsignal's `SenderKeyDistributionMessage::new`). */
  static create(fields: {
    distributionId: string;
    chainId: number;
    iteration: number;
    chainKey: Uint8Array;
    signingKey: PublicKey;
    messageVersion?: number;
  }): SenderKeyDistributionMessage {
    const version = fields.messageVersion ?? SENDER_KEY_MESSAGE_VERSION;
    assertBytes(fields.chainKey, 'chainKey', CHAIN_KEY_LENGTH);
    // A key of either copy of core (an app that loads two copies): `PublicKey.from`.
    const signingKey = PublicKey.from(fields.signingKey, 'signingKey');
    const uuid = distributionIdToBytes(fields.distributionId);
    const body = new ProtoWriter()
      .bytes(1, uuid)
      .uint32(2, fields.chainId)
      .uint32(3, fields.iteration)
      .bytes(4, fields.chainKey)
      .bytes(5, signingKey.serialize())
      .finish();
    const serialized = new Uint8Array(1 + body.length);
    serialized[0] = versionByte(version);
    serialized.set(body, 1);
    const h = header(version, { uuid, chainId: fields.chainId, iteration: fields.iteration });
    return new SenderKeyDistributionMessage(h, copyBytes(fields.chainKey), signingKey, serialized);
  }

  static deserialize(bytes: Uint8Array): SenderKeyDistributionMessage {
    assertBytes(bytes, 'distribution message');
    const version = checkHeader(bytes, 'sender key distribution message');
    const f = readFields(bytes.subarray(1), true);
    if (
      f.uuid === undefined ||
      f.chainId === undefined ||
      f.iteration === undefined ||
      f.f4 === undefined ||
      f.f5 === undefined
    ) {
      throw new DecodeError('sender key distribution message is missing a field');
    }
    if (f.uuid.length !== 16) throw new DecodeError('distribution id must be 16 bytes');
    if (f.f4.length !== CHAIN_KEY_LENGTH || f.f5.length !== 33) {
      throw new DecodeError('sender key distribution message has a wrong key length');
    }
    const signingKey = PublicKey.deserialize(f.f5);
    return new SenderKeyDistributionMessage(header(version, f), f.f4, signingKey, copyBytes(bytes));
  }

  /** The 32-byte chain key at `iteration` (a copy). Secret: whoever holds it reads the chain from here on. */
  chainKey(): Uint8Array {
    return this.#chainKey.slice();
  }

  protected describe(): string {
    return 'SenderKeyDistributionMessage';
  }
}

/** A group message: encrypted once, signed by the sender's chain signing key. */
export class SenderKeyMessage extends WireMessage {
  readonly #ciphertext: Uint8Array;

  private constructor(h: Header, ciphertext: Uint8Array, serialized: Uint8Array) {
    super(h, serialized);
    this.#ciphertext = ciphertext;
  }

  /**
   * The bytes the signature covers: version byte ‖ protobuf (fields in number order, zeros written).
   */
  static encodeUnsigned(fields: {
    distributionId: string;
    chainId: number;
    iteration: number;
    ciphertext: Uint8Array;
    messageVersion?: number;
  }): Uint8Array {
    assertBytes(fields.ciphertext, 'ciphertext');
    const body = new ProtoWriter()
      .bytes(1, distributionIdToBytes(fields.distributionId))
      .uint32(2, fields.chainId)
      .uint32(3, fields.iteration)
      .bytes(4, fields.ciphertext)
      .finish();
    const out = new Uint8Array(1 + body.length);
    out[0] = versionByte(fields.messageVersion ?? SENDER_KEY_MESSAGE_VERSION);
    out.set(body, 1);
    return out;
  }

  static deserialize(bytes: Uint8Array): SenderKeyMessage {
    assertBytes(bytes, 'sender key message');
    const version = checkHeader(bytes, 'sender key message');
    const f = readFields(bytes.subarray(1, bytes.length - SENDER_KEY_SIGNATURE_LENGTH), false);
    if (f.uuid === undefined || f.chainId === undefined || f.iteration === undefined || f.f4 === undefined) {
      throw new DecodeError('sender key message is missing a field');
    }
    if (f.uuid.length !== 16) throw new DecodeError('distribution id must be 16 bytes');
    return new SenderKeyMessage(header(version, f), f.f4, copyBytes(bytes));
  }

  /** The AES-256-CBC ciphertext (a copy). */
  ciphertext(): Uint8Array {
    return this.#ciphertext.slice();
  }

  /** Everything before the signature: the bytes the signature covers (a copy). */
  signedBytes(): Uint8Array {
    return this.serialized.slice(0, this.serialized.length - SENDER_KEY_SIGNATURE_LENGTH);
  }

  /** The 64-byte signature (a copy). */
  signature(): Uint8Array {
    return this.serialized.slice(this.serialized.length - SENDER_KEY_SIGNATURE_LENGTH);
  }

  /** @internal Views without copies, for the cipher. */
  get parts(): { signed: Uint8Array; signature: Uint8Array; ciphertext: Uint8Array } {
    const cut = this.serialized.length - SENDER_KEY_SIGNATURE_LENGTH;
    return {
      signed: this.serialized.subarray(0, cut),
      signature: this.serialized.subarray(cut),
      ciphertext: this.#ciphertext,
    };
  }

  protected describe(): string {
    return 'SenderKeyMessage';
  }
}

// Another copy's messages (an app that loads two copies of this package: its ESM and CommonJS builds,
// or two versions) are recognised by a brand under a registered symbol, the same in every copy, and
// read through their wire bytes (core's `ownValue`, as records and core's keys are).
const SKDM_BRAND = Symbol.for('@e2ee-kit/sender-keys/SenderKeyDistributionMessage@1');
const SKM_BRAND = Symbol.for('@e2ee-kit/sender-keys/SenderKeyMessage@1');
brandClass(SenderKeyDistributionMessage, SKDM_BRAND);
brandClass(SenderKeyMessage, SKM_BRAND);

/**
 * `message` as this copy's `cls`: itself, its wire bytes decoded, or another copy's object read
 * through one `serialize()` — longer than `maxLength` refused unread (bounded work), anything that is
 * not such a message a `DecodeError`. `secret`: the array it returned is overwritten once read.
 */
function own<T>(
  message: unknown,
  cls: ValueClass<T>,
  brand: symbol,
  what: string,
  maxLength: number,
  secret: boolean,
): T {
  return ownValue(message, cls, brand, what, { maxLength, secret }) ?? cls.deserialize(message as Uint8Array);
}

/** A distribution message's bytes or object, of this copy or another (≤ 4 KiB; a real one is ~100 bytes). */
export const ownSkdm = (m: unknown): SenderKeyDistributionMessage =>
  own(m, SenderKeyDistributionMessage, SKDM_BRAND, 'SenderKeyDistributionMessage', 4096, true);

/** A group message's bytes or object, of this copy or another (≤ 4 MiB: sealed sender's cap on what carries it). */
export const ownSkm = (m: unknown): SenderKeyMessage =>
  own(m, SenderKeyMessage, SKM_BRAND, 'SenderKeyMessage', 4 * 1024 * 1024, false);
