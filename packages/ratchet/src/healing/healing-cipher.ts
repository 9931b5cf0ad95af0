/**
 * `HealingCipher`: the retry-receipt flow run for the app, so adopting it is a few lines. One per
 * local device, for every peer device:
 *
 * - `encrypt(to, plaintext, timestamp)` starts a session from `fetchBundle` when there is none and
 *   keeps the plaintext in the resend cache under (recipient, timestamp);
 * - `decrypt(from, message, { timestamp })` decrypts, or on a failure a receipt can fix sends the
 *   sender a retry receipt (`sendRetryRequest`) — unless the policy says stop, then it reports
 *   `gave-up` for the app to show;
 * - `onRetryRequest(from, bytes)` archives the session the receipt names (only if it names the current
 *   ratchet key), starts over from a fresh bundle, re-encrypts the cached plaintext and hands it to
 *   `resend` with its original timestamp — or reports why it did not, for the app to show.
 *
 * A session record that cannot be read (a `DecodeError` on load: corrupted, truncated) is removed,
 * under the address's lock, by whichever of the three calls meets it: its sessions are unusable
 * anyway, and a removed record lets a PreKey message or a fresh bundle start a new session.
 */
import { type Address, copyBytes, E2eeError, validateAddress } from '@e2ee-kit/core';
import { ownPreKeyBundle, type PreKeyBundle } from '../bundle.js';
import {
  type DecryptedMessage,
  type DecryptOptions,
  type EncryptedMessage,
  isUnreadableRecordError,
  SessionCipher,
  type SessionCipherOptions,
} from '../session-cipher.js';
import { assertProtocolStore, type ProtocolStore, type TransactionOf } from '../stores.js';
import { ownState } from './own-state.js';
import { PlaintextContent } from './plaintext-content.js';
import { type CachedMessage, RESEND_CACHE, ResendCache } from './resend-cache.js';
import { createRetryRequest, isRetryableDecryptError, planRetryResponse } from './retry-flow.js';
import { RETRY_POLICY, type RetryDenial, RetryPolicy } from './retry-policy.js';

export interface HealingCipherOptions<S extends ProtocolStore = ProtocolStore> {
  readonly store: S;
  /** This device. Its device id tells our receipts from those for our other devices' messages. */
  readonly localAddress: Address;
  /** Where sent plaintexts wait for a receipt (`ResendCache.create` of this copy of the package). */
  readonly resendCache: ResendCache;
  /** Loop protection, for both roles (of this copy of the package). Default `new RetryPolicy()` (Signal's limits). */
  readonly policy?: RetryPolicy;
  /** A fresh bundle of `address` from the server, for a first message and for starting over (its `deviceId` must be `address.deviceId`). */
  readonly fetchBundle: (address: Address) => Promise<PreKeyBundle>;
  /** Send `receipt` to `to` unencrypted (Signal: envelope type 8, `PLAINTEXT_CONTENT`). */
  readonly sendRetryRequest: (to: Address, receipt: Uint8Array) => Promise<void>;
  /** Send `message` to `to` as an ordinary message with `timestamp`, the original message's. */
  readonly resend: (to: Address, message: EncryptedMessage, timestamp: number) => Promise<void>;
  /**
   * Sent (through `resend`) after a receipt archived the session when the message it names is not
   * cached, so the peer has the new session at once (Signal: a `NullMessage` content). Default: none;
   * the next `encrypt` starts it.
   */
  readonly nullMessage?: Uint8Array;
  /** Passed to every `SessionCipher` made here (`localAddress` is the option above). */
  readonly cipherOptions?: Omit<SessionCipherOptions, 'localAddress'>;
  /**
   * The handshake of a session started here with `address` (`SessionCipher.initiate`'s `protocol`).
   * Default `'pqxdh'` for every peer. Answer `'x3dh'` only for a peer the app knows offers nothing else
   * (libsignal before Kyber pre-keys), never because a fetched bundle lacks its Kyber key: a relay
   * could strip it to downgrade the session. The peer's PreKey messages need `cipherOptions.acceptX3dh`.
   */
  readonly protocolFor?: (address: Address) => 'pqxdh' | 'x3dh';
}

/** The envelope facts a decrypt needs: the message's timestamp, as its sender set it (ms). */
export interface EnvelopeInfo {
  readonly timestamp: number;
}

/** What `decrypt` did. `unreadableSessionRemoved`: a corrupted session record was removed first. */
export type HealingDecryptResult =
  | {
      readonly kind: 'decrypted';
      readonly message: DecryptedMessage;
      readonly unreadableSessionRemoved: boolean;
    }
  | {
      /** A retry receipt went to the sender (`sendRetryRequest`): its resend arrives as a new message. */
      readonly kind: 'retry-requested';
      readonly receipt: PlaintextContent;
      readonly error: E2eeError;
      readonly unreadableSessionRemoved: boolean;
    }
  | {
      /** The policy says stop asking: show "a message from this contact could not be decrypted". */
      readonly kind: 'gave-up';
      readonly reason: RetryDenial;
      readonly error: E2eeError;
      readonly unreadableSessionRemoved: boolean;
    };

/** What `onRetryRequest` did. Every kind but `resent` means the message may not have arrived. */
export type RetryRequestResult =
  | {
      /** The cached plaintext went out again (`resend`), over a new session if `newSession`. */
      readonly kind: 'resent';
      readonly timestamp: number;
      readonly archived: boolean;
      readonly newSession: boolean;
      /** A sender-key (group) message failed: forget that this device has our sender key, re-share it. */
      readonly reshareSenderKey: boolean;
    }
  | {
      /** Nothing cached for that timestamp (expired, never kept): tell the user it was not delivered. */
      readonly kind: 'not-cached';
      readonly timestamp: number;
      readonly archived: boolean;
      readonly nullMessageSent: boolean;
      readonly reshareSenderKey: boolean;
    }
  | {
      /** The policy refused to answer (too many, too old): tell the user it may not have arrived. */
      readonly kind: 'refused';
      readonly timestamp: number;
      readonly reason: RetryDenial;
    }
  | {
      /** The receipt is about a message another of our devices sent: that device answers it. */
      readonly kind: 'other-device';
      readonly timestamp: number;
    };

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Ciphers kept per peer device (each caches a key object); the oldest is dropped beyond this. */
const MAX_CACHED_CIPHERS = 256;

export class HealingCipher<S extends ProtocolStore = ProtocolStore> {
  readonly #store: S;
  readonly #local: Address;
  readonly #cache: ResendCache;
  readonly #policy: RetryPolicy;
  readonly #fetchBundle: HealingCipherOptions<S>['fetchBundle'];
  readonly #sendRetryRequest: HealingCipherOptions<S>['sendRetryRequest'];
  readonly #resend: HealingCipherOptions<S>['resend'];
  readonly #nullMessage: Uint8Array | undefined;
  readonly #cipherOptions: SessionCipherOptions;
  readonly #protocolFor: ((address: Address) => 'pqxdh' | 'x3dh') | undefined;
  readonly #ciphers = new Map<string, SessionCipher<S>>();

  constructor(options: HealingCipherOptions<S>) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    assertProtocolStore(options.store);
    validateAddress(options.localAddress);
    // Another copy's cache or policy (an app that loads two copies) is refused, not read: own-state.ts.
    const cache = ownState(options.resendCache, ResendCache, RESEND_CACHE, 'resendCache', 'ResendCache');
    const policy =
      options.policy === undefined
        ? undefined
        : ownState(options.policy, RetryPolicy, RETRY_POLICY, 'policy', 'RetryPolicy');
    for (const f of ['fetchBundle', 'sendRetryRequest', 'resend'] as const)
      if (typeof options[f] !== 'function') throw new TypeError(`${f} must be a function`);
    if (options.protocolFor !== undefined && typeof options.protocolFor !== 'function')
      throw new TypeError('protocolFor must be a function');
    if (options.nullMessage !== undefined && !(options.nullMessage instanceof Uint8Array))
      throw new TypeError('nullMessage must be a Uint8Array');
    const cipherOptions = options.cipherOptions ?? {};
    if (cipherOptions === null || typeof cipherOptions !== 'object')
      throw new TypeError('cipherOptions must be an object');
    this.#store = options.store;
    this.#local = Object.freeze({ name: options.localAddress.name, deviceId: options.localAddress.deviceId });
    this.#cache = cache;
    this.#policy = policy ?? new RetryPolicy();
    this.#fetchBundle = options.fetchBundle;
    this.#sendRetryRequest = options.sendRetryRequest;
    this.#resend = options.resend;
    // A copy, not `slice()`: for a pooled Node Buffer that is a view of the caller's memory.
    this.#nullMessage = options.nullMessage === undefined ? undefined : copyBytes(options.nullMessage);
    this.#cipherOptions = { ...cipherOptions, localAddress: this.#local };
    this.#protocolFor = options.protocolFor;
    // Set here, not as a `[INSPECT]()` method or with core's `redact` at module load: a computed class
    // key or a top-level call keeps this class — and the resend cache, policy and receipt codecs it
    // uses — in every bundle that imports anything else from the package.
    Object.defineProperty(this, INSPECT, { value: () => '[HealingCipher]' });
  }

  /** The `SessionCipher` for `peer` (same store, lock and options as this healer's own calls). */
  cipher(peer: Address): SessionCipher<S> {
    validateAddress(peer);
    const key = `${peer.deviceId}.${peer.name}`;
    let c = this.#ciphers.get(key);
    if (c === undefined) {
      c = new SessionCipher(this.#store, peer, this.#cipherOptions);
      if (this.#ciphers.size >= MAX_CACHED_CIPHERS)
        this.#ciphers.delete(this.#ciphers.keys().next().value as string);
    } else this.#ciphers.delete(key); // re-inserted below: most recently used last
    this.#ciphers.set(key, c);
    return c;
  }

  /**
   * Encrypts `plaintext` for `to`, sent with `timestamp` (ms, the envelope's): keeps it in the resend
   * cache first (if that fails, nothing was encrypted), then starts a session from `fetchBundle` when
   * there is none usable (or its record was unreadable). If a later step fails, the cache entry is
   * taken out again (a session already started from the bundle stays: it is a valid new session).
   */
  async encrypt(to: Address, plaintext: Uint8Array, timestamp: number): Promise<EncryptedMessage> {
    const cipher = this.cipher(to);
    if (!(plaintext instanceof Uint8Array)) throw new TypeError('plaintext must be a Uint8Array');
    // One copy before the first await: what is cached for a resend is what is sent.
    const bytes = copyBytes(plaintext);
    await this.#cache.put(to, timestamp, bytes);
    try {
      await this.#ensureSession(to, cipher);
      return await cipher.encrypt(bytes);
    } catch (err) {
      await this.#cache.remove(to, timestamp).catch(() => undefined); // the original error matters more
      throw err;
    }
  }

  /**
   * Decrypts `message` from `from` (`options.deliver` as in `SessionCipher.decrypt`). A failure a
   * receipt can fix resolves as `retry-requested` (receipt sent) or `gave-up` (policy: stop); any
   * other failure (a duplicate, malformed bytes, a store failure, the app's `deliver` throwing)
   * rejects with its error unchanged, as `SessionCipher.decrypt` would.
   */
  async decrypt(
    from: Address,
    message: EncryptedMessage,
    envelope: EnvelopeInfo,
    options: DecryptOptions<TransactionOf<S>> = {},
  ): Promise<HealingDecryptResult> {
    const cipher = this.cipher(from);
    if (envelope === null || typeof envelope !== 'object')
      throw new TypeError('envelope must be { timestamp }');
    const { timestamp } = envelope;
    if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp < 0)
      throw new RangeError('envelope.timestamp must be a non-negative safe integer (ms)');
    // Copied before the first await: a second decrypt or the retry receipt reads this message later,
    // when the caller's buffer may hold the next one. (Anything else is SessionCipher's TypeError.)
    if (message !== null && typeof message === 'object' && message.body instanceof Uint8Array)
      message = { type: message.type, body: copyBytes(message.body) };
    let removed = false;
    let error: unknown;
    try {
      return {
        kind: 'decrypted',
        message: await cipher.decrypt(message, options),
        unreadableSessionRemoved: false,
      };
    } catch (err) {
      error = err;
    }
    // A `DecodeError` is either the message's (rethrown below) or the stored record's: only the
    // latter is removed, and then the sender must start over even though the code is not retryable.
    if (isUnreadableRecordError(error) && (await cipher.discardUnreadableSession())) {
      removed = true;
      // A PreKey message starts a new session by itself; a whisper one needs the sender to start over.
      if (message.type === 'prekey') {
        try {
          return {
            kind: 'decrypted',
            message: await cipher.decrypt(message, options),
            unreadableSessionRemoved: true,
          };
        } catch (err) {
          if (!isRetryableDecryptError(err)) throw err; // e.g. the app's `deliver` failed: its error
          error = err;
        }
      }
    } else if (!isRetryableDecryptError(error)) throw error;
    const failure = error as E2eeError;
    const decision = this.#policy.allowRequest(from, timestamp);
    if (!decision.allowed)
      return { kind: 'gave-up', reason: decision.reason, error: failure, unreadableSessionRemoved: removed };
    const receipt = createRetryRequest({
      type: message.type,
      body: message.body,
      timestamp,
      senderDeviceId: from.deviceId,
    });
    await this.#sendRetryRequest(from, receipt.serialize());
    return { kind: 'retry-requested', receipt, error: failure, unreadableSessionRemoved: removed };
  }

  /**
   * Answers a retry receipt (`receipt`: the `PlaintextContent` bytes `from` sent). Malformed bytes
   * are a `DecodeError`; a resend is never answered with a receipt, so two broken peers stop after
   * the policy's limits. If `fetchBundle` or `resend` throws, its error comes through and the archive
   * stays (the session the receipt named is broken anyway; the next `encrypt` starts over).
   */
  async onRetryRequest(from: Address, receipt: Uint8Array): Promise<RetryRequestResult> {
    const cipher = this.cipher(from);
    const request = PlaintextContent.deserialize(receipt).decryptionErrorMessage();
    const { timestamp } = request;
    if (request.deviceId !== this.#local.deviceId) return { kind: 'other-device', timestamp };
    const decision = this.#policy.allowResponse(from, timestamp);
    if (!decision.allowed) return { kind: 'refused', timestamp, reason: decision.reason };
    const cached = await this.#cached(from, timestamp);
    const named = request.ratchetKey;
    let archived = false;
    if (named !== undefined) {
      try {
        archived = await cipher.archive({ ifRatchetKey: named });
      } catch (err) {
        if (!isUnreadableRecordError(err)) throw err;
        archived = await cipher.discardUnreadableSession();
      }
    }
    const plan = planRetryResponse({
      request,
      localDeviceId: this.#local.deviceId,
      currentRatchetKey: archived ? named : undefined, // the archive above already made the check
      hasCachedMessage: cached !== undefined,
      decision,
    });
    const reshareSenderKey = plan.reshareSenderKey;
    if (plan.action === 'resend' && cached !== undefined) {
      const newSession = await this.#ensureSession(from, cipher);
      await this.#resend(from, await cipher.encrypt(cached.plaintext), timestamp);
      return { kind: 'resent', timestamp, archived, newSession, reshareSenderKey };
    }
    let nullMessageSent = false;
    if (plan.action === 'null-message' && this.#nullMessage !== undefined) {
      await this.#ensureSession(from, cipher);
      await this.#resend(from, await cipher.encrypt(this.#nullMessage.slice()), timestamp);
      nullMessageSent = true;
    }
    return { kind: 'not-cached', timestamp, archived, nullMessageSent, reshareSenderKey };
  }

  toString(): string {
    return '[HealingCipher]';
  }
  toJSON(): string {
    return '[HealingCipher]';
  }

  /** The cached message, or undefined; a record that does not open (other key, damaged) counts as none. */
  async #cached(to: Address, timestamp: number): Promise<CachedMessage | undefined> {
    try {
      return await this.#cache.get(to, timestamp);
    } catch (err) {
      if (E2eeError.is(err) && (err.name === 'VerificationError' || err.name === 'DecodeError'))
        return undefined;
      throw err;
    }
  }

  /** Starts a session with `peer` from a fresh bundle unless there is a usable one; true if it did. */
  async #ensureSession(peer: Address, cipher: SessionCipher<S>): Promise<boolean> {
    let usable: boolean;
    try {
      usable = await cipher.hasSession();
    } catch (err) {
      if (!isUnreadableRecordError(err) || !(await cipher.discardUnreadableSession())) throw err;
      usable = false;
    }
    if (usable) return false;
    // Another copy's bundle (an app that loads two copies of this package) is read as this copy's.
    const bundle = ownPreKeyBundle(
      await this.#fetchBundle(peer),
      'fetchBundle must resolve to a PreKeyBundle',
    );
    // A bundle of another device (the relay's mistake, or its routing one device's mail to another)
    // would build this address's session on that device's keys.
    if (bundle.deviceId !== peer.deviceId)
      throw new TypeError(
        `fetchBundle resolved to a bundle of device ${bundle.deviceId} for device ${peer.deviceId}`,
      );
    // initiate refuses (TypeError) anything protocolFor answers but 'pqxdh' or 'x3dh'.
    await cipher.initiate(bundle, { protocol: this.#protocolFor?.(peer) ?? 'pqxdh' });
    return true;
  }
}
