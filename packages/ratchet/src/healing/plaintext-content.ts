/**
 * libsignal's `PlaintextContent`: the unencrypted envelope body (ciphertext type 8, Signal's envelope
 * type `PLAINTEXT_CONTENT`) that carries a `DecryptionErrorMessage`. Layout:
 * `0xC0` ‖ `Content { decryption_error_message (8) }` ‖ `0x80`. The first byte marks content that is
 * allowed to travel in plaintext (libsignal refuses anything else); `0x80` is the padding boundary of
 * Signal's content padding, and nothing follows it because these messages need no padding.
 */
import { assertBytes, DecodeError, ProtoWriter } from '@e2ee-kit/core';
import {
  DecryptionErrorMessage,
  MAX_DECRYPTION_ERROR_MESSAGE_LENGTH,
  ownDecryptionErrorMessage,
  PADDING_BOUNDARY_BYTE,
} from './decryption-error-message.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** libsignal's `PLAINTEXT_CONTEXT_IDENTIFIER_BYTE`. */
export const PLAINTEXT_CONTENT_IDENTIFIER_BYTE = 0xc0;

/** Largest serialized `PlaintextContent` we accept (identifier, Content key and length, message, marker). */
export const MAX_PLAINTEXT_CONTENT_LENGTH = MAX_DECRYPTION_ERROR_MESSAGE_LENGTH + 9;

/** `Content.decryption_error_message` in Signal's `service.proto`. */
const CONTENT_DECRYPTION_ERROR_MESSAGE = 8;

export class PlaintextContent {
  readonly #serialized: Uint8Array;

  private constructor(serialized: Uint8Array) {
    this.#serialized = serialized;
    Object.freeze(this);
  }

  /** libsignal's `PlaintextContent.from(DecryptionErrorMessage)`. */
  static from(given: DecryptionErrorMessage): PlaintextContent {
    // Another copy's (an app that loads two copies of this package) is read as this copy's.
    const message = ownDecryptionErrorMessage(given, 'message must be a DecryptionErrorMessage');
    const content = new ProtoWriter().bytes(CONTENT_DECRYPTION_ERROR_MESSAGE, message.serialize()).finish();
    const out = new Uint8Array(content.length + 2);
    out[0] = PLAINTEXT_CONTENT_IDENTIFIER_BYTE;
    out.set(content, 1);
    out[out.length - 1] = PADDING_BOUNDARY_BYTE;
    return new PlaintextContent(out);
  }

  /**
   * libsignal's `PlaintextContent.deserialize`: checks the identifier byte (and our length bound) only;
   * the body is parsed by `decryptionErrorMessage()`.
   */
  static deserialize(bytes: Uint8Array): PlaintextContent {
    assertBytes(bytes, 'PlaintextContent');
    if (bytes.length === 0) throw new DecodeError('PlaintextContent is empty');
    if (bytes[0] !== PLAINTEXT_CONTENT_IDENTIFIER_BYTE)
      throw new DecodeError('not a PlaintextContent (wrong identifier byte)');
    if (bytes.length > MAX_PLAINTEXT_CONTENT_LENGTH) throw new DecodeError('PlaintextContent is too long');
    return new PlaintextContent(new Uint8Array(bytes)); // a copy (`Buffer#slice` would be a view)
  }

  /** Everything after the identifier byte, padding marker included (libsignal's `body()`). A copy. */
  get body(): Uint8Array {
    return this.#serialized.slice(1);
  }

  /** The `DecryptionErrorMessage` inside; a `DecodeError` if the body holds none or is malformed. */
  decryptionErrorMessage(): DecryptionErrorMessage {
    return DecryptionErrorMessage.extractFromSerializedBody(this.#serialized.subarray(1));
  }

  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  toString(): string {
    return `[PlaintextContent ${this.#serialized.length} bytes]`;
  }
  [INSPECT](): string {
    return this.toString();
  }
}
