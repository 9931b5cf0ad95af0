/**
 * The protocol itself: session setup (PQXDH / X3DH), the Double Ratchet with SPQR-lite, libsignal's
 * choice of session state ("Sesame"), and the store writes with rollback.
 *
 * Every operation reads what it needs from the store, computes the new records in memory (cloned
 * states; records returned by the store are never modified), and only then writes, in an order whose
 * every step can be undone. A failure anywhere undoes the writes already done, so the store ends up
 * byte-identical to before.
 */
import {
  type Address,
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  type IdentityChange,
  InvalidKeyError,
  KemType,
  KeyPair,
  kemDecapsulate,
  kemEncapsulate,
  MessageGapError,
  PrivateKey,
  PublicKey,
  SessionNotFoundError,
  StoreError,
  UntrustedIdentityError,
  VerificationError,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { PreKeyBundle } from './bundle.js';
import {
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  MAX_RECEIVER_CHAINS,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  SESSION_VERSION_PQXDH,
  SESSION_VERSION_X3DH,
} from './constants.js';
import { RatchetErrorCode } from './errors.js';
import {
  deriveHandshakeKeys,
  deriveMessageKeys,
  initiatorSecret,
  kdfRootKey,
  messageSeed,
  nextChainKey,
  responderSecret,
} from './kdf.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import { archive, SessionRecord } from './records/session-record.js';
import { type ReceiverChain, SessionState, type SkippedKey } from './records/session-state.js';
import { encodeAddresses, sameServiceId } from './service-id.js';
import type { DecryptedMessage, EncryptedMessage, WireMessageType } from './session-cipher.js';
import { spqrInit, spqrRecv, spqrSend } from './spqr-lite.js';
import type { ProtocolStore } from './stores.js';
import { MAC_LENGTH, PreKeySignalMessage, SignalMessage } from './wire.js';

export interface ProtocolContext {
  readonly store: ProtocolStore;
  readonly remote: Address;
  readonly local: Address | undefined;
  readonly provider: CryptoProvider;
  readonly acceptX3dh: boolean;
  readonly now: () => number;
  /**
   * The last ratchet private key this cipher generated or loaded, as a key object. Providers cache
   * imported keys per key object, so reusing it saves a key import on the next DH ratchet step.
   * Only used when its bytes equal the stored state's.
   */
  ratchetKeyCache: { publicKey: Uint8Array; privateKey: PrivateKey } | undefined;
}

function cachedPrivateKey(ctx: ProtocolContext, publicKey: Uint8Array, privateKey: Uint8Array): PrivateKey {
  const c = ctx.ratchetKeyCache;
  if (c && bytesEqual(c.publicKey, publicKey) && constantTimeEqual(c.privateKey.rawView, privateKey))
    return c.privateKey;
  return PrivateKey.deserialize(privateKey);
}

// ---------------------------------------------------------------------------------------------
// Store calls and rollback

/** Runs a store call; a non-E2eeError it throws becomes `StoreError` with the original as `cause`. */
async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (E2eeError.is(err)) throw err;
    throw new StoreError(`store call ${what} failed`, { cause: err });
  }
}

/** Ordered writes; on failure every earlier write is undone (best effort, in reverse order). */
class Writes {
  readonly #undo: (() => Promise<unknown>)[] = [];

  async do<T>(
    what: string,
    fn: () => Promise<T>,
    undo?: (result: T) => (() => Promise<unknown>) | undefined,
  ): Promise<T> {
    const result = await storeCall(what, fn);
    const u = undo?.(result);
    if (u) this.#undo.push(u);
    return result;
  }

  async rollback(): Promise<void> {
    for (const u of this.#undo.reverse()) {
      try {
        await u();
      } catch {
        // The store is failing; nothing better to do than to try the remaining undos.
      }
    }
    this.#undo.length = 0;
  }
}

async function writeAll(steps: (w: Writes) => Promise<void>): Promise<void> {
  const w = new Writes();
  try {
    await steps(w);
  } catch (err) {
    await w.rollback();
    throw err;
  }
}

function saveSessionStep(ctx: ProtocolContext, w: Writes, record: SessionRecord, old: SessionRecord | null) {
  return w.do(
    'saveSession',
    () => ctx.store.saveSession(ctx.remote, record),
    () => (old ? () => ctx.store.saveSession(ctx.remote, old) : () => ctx.store.removeSession(ctx.remote)),
  );
}

function saveIdentityStep(ctx: ProtocolContext, w: Writes, identity: PublicKey) {
  return w.do<IdentityChange>(
    'saveIdentity',
    () => ctx.store.saveIdentity(ctx.remote, identity),
    (change) => {
      if (change?.kind === 'replaced') {
        const previous = change.previous;
        return () => ctx.store.saveIdentity(ctx.remote, previous);
      }
      if (change?.kind === 'new' && typeof ctx.store.removeIdentity === 'function') {
        return () => (ctx.store.removeIdentity as (a: Address) => Promise<void>)(ctx.remote);
      }
      return undefined;
    },
  );
}

async function checkTrusted(
  ctx: ProtocolContext,
  identity: PublicKey,
  direction: 'sending' | 'receiving',
): Promise<void> {
  const trusted = await storeCall('isTrustedIdentity', () =>
    ctx.store.isTrustedIdentity(ctx.remote, identity, direction),
  );
  if (trusted !== true) throw new UntrustedIdentityError(ctx.remote);
}

// ---------------------------------------------------------------------------------------------
// Helpers

function invalidMessage(message: string, cause?: unknown): VerificationError {
  return new VerificationError(message, {
    code: RatchetErrorCode.InvalidMessage,
    ...(cause === undefined ? {} : { cause }),
  });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** libsignal's `is_same_account`: same identity key and both names the same ServiceId. */
function isSelfSession(ctx: ProtocolContext, local: Uint8Array, remote: Uint8Array | undefined): boolean {
  return (
    ctx.local !== undefined &&
    remote !== undefined &&
    bytesEqual(local, remote) &&
    sameServiceId(ctx.local, ctx.remote)
  );
}

async function hmac8(
  provider: CryptoProvider,
  macKey: Uint8Array,
  senderIdentity: Uint8Array,
  receiverIdentity: Uint8Array,
  bytes: Uint8Array,
): Promise<Uint8Array> {
  const full = await provider.hmacSha256(macKey, concatBytes(senderIdentity, receiverIdentity, bytes));
  return full.subarray(0, MAC_LENGTH);
}

// ---------------------------------------------------------------------------------------------
// Session setup (initiator)

export async function initiateSession(
  ctx: ProtocolContext,
  bundle: PreKeyBundle,
  protocol: 'pqxdh' | 'x3dh',
): Promise<void> {
  if (!(bundle instanceof PreKeyBundle)) throw new TypeError('bundle must be a PreKeyBundle');
  const { provider, store } = ctx;
  const theirIdentity = bundle.identityKey;
  await checkTrusted(ctx, theirIdentity, 'sending');

  const spk = bundle.signedPreKey;
  if (!(await xeddsaVerify(theirIdentity, spk.publicKey.serialize(), spk.signature, provider))) {
    throw new VerificationError('signed pre-key signature is invalid', { code: ErrorCode.InvalidSignature });
  }
  const kyber = bundle.kyberPreKey;
  if (kyber && !(await xeddsaVerify(theirIdentity, kyber.publicKey.serialize(), kyber.signature, provider))) {
    throw new VerificationError('Kyber pre-key signature is invalid', { code: ErrorCode.InvalidSignature });
  }
  const pqxdh = protocol === 'pqxdh';
  if (pqxdh) {
    if (!kyber)
      throw new InvalidKeyError('PQXDH needs a Kyber pre-key', { code: RatchetErrorCode.MissingKyberPreKey });
    if (kyber.publicKey.type !== KemType.Kyber1024)
      throw new InvalidKeyError('Kyber pre-key must be Kyber-1024 (type 0x08)');
  }

  const old = await storeCall('getSession', () => store.getSession(ctx.remote));
  const ours = await storeCall('getIdentityKeyPair', () => store.getIdentityKeyPair());
  const localRegistrationId = await storeCall('getLocalRegistrationId', () => store.getLocalRegistrationId());

  const baseKey = await KeyPair.generate(provider);
  let kyberCiphertext: Uint8Array | undefined;
  let kyberSharedSecret: Uint8Array | undefined;
  if (pqxdh && kyber) {
    const encapsulation = kemEncapsulate(kyber.publicKey, provider);
    kyberSharedSecret = encapsulation.sharedSecret;
    kyberCiphertext = encapsulation.ciphertext;
  }
  const secret = await initiatorSecret(
    {
      ourIdentity: ours.privateKey,
      ourBase: baseKey.privateKey,
      theirIdentity,
      theirSignedPreKey: spk.publicKey,
      theirOneTimePreKey: bundle.preKey?.publicKey,
      kyberSharedSecret,
    },
    provider,
  );
  const keys = await deriveHandshakeKeys(secret, pqxdh, provider);
  secret.fill(0);

  const sending = await KeyPair.generate(provider);
  ctx.ratchetKeyCache = { publicKey: sending.publicKey.serialize(), privateKey: sending.privateKey };
  const first = await kdfRootKey(
    keys.rootKey,
    await sending.privateKey.agree(spk.publicKey, provider),
    provider,
  );

  const state = new SessionState();
  state.version = pqxdh ? SESSION_VERSION_PQXDH : SESSION_VERSION_X3DH;
  state.localIdentity = ours.publicKey.serialize();
  state.remoteIdentity = theirIdentity.serialize();
  state.rootKey = first.rootKey.slice();
  state.previousCounter = 0;
  state.senderChain = {
    ratchetKey: sending.publicKey.serialize(),
    ratchetPrivate: sending.privateKey.serialize(),
    chainKey: { index: 0, key: first.chainKey.slice() },
  };
  state.receiverChains = [
    { ratchetKey: spk.publicKey.serialize(), chainKey: { index: 0, key: keys.chainKey }, messageKeys: [] },
  ];
  state.pending = {
    preKeyId: bundle.preKey?.id,
    signedPreKeyId: spk.id,
    baseKey: baseKey.publicKey.serialize(),
    timestamp: Math.floor(ctx.now() / 1000),
    kyberPreKeyId: pqxdh ? kyber?.id : undefined,
    kyberCiphertext,
  };
  state.localRegistrationId = localRegistrationId;
  state.remoteRegistrationId = bundle.registrationId;
  state.aliceBaseKey = baseKey.publicKey.serialize();
  if (keys.spqrAuthKey) state.spqr = await spqrInit(keys.spqrAuthKey, true, provider);

  const record = promote(old, state);
  await writeAll(async (w) => {
    await saveIdentityStep(ctx, w, theirIdentity);
    await saveSessionStep(ctx, w, record, old);
  });
}

/** libsignal's `promote_state`: archive the current state (if any) and install `state`. */
function promote(old: SessionRecord | null, state: SessionState): SessionRecord {
  if (!old) return SessionRecord.fromParts(state, []);
  const current = old.currentState;
  const previous = current ? archive(old.previousStates, current) : old.previousStates.slice();
  return SessionRecord.fromParts(state, previous);
}

// ---------------------------------------------------------------------------------------------
// Encrypt

export async function encryptMessage(ctx: ProtocolContext, plaintext: Uint8Array): Promise<EncryptedMessage> {
  const { provider, store } = ctx;
  const old = await storeCall('getSession', () => store.getSession(ctx.remote));
  const current = old?.currentState;
  if (!old || !current?.senderChain || !current.remoteIdentity) throw new SessionNotFoundError(ctx.remote);
  if (current.pending && current.pending.timestamp * 1000 + MAX_UNACKNOWLEDGED_SESSION_AGE_MS < ctx.now()) {
    throw new SessionNotFoundError(ctx.remote);
  }
  const state = current.cloneForSending();
  const sender = state.senderChain as NonNullable<SessionState['senderChain']>;
  const remoteIdentity = state.remoteIdentity as Uint8Array;

  let spqrKey: Uint8Array | undefined;
  let pqRatchet: Uint8Array = new Uint8Array(0);
  if (state.spqr) {
    const sent = await spqrSend(state.spqr, provider);
    spqrKey = sent.key;
    pqRatchet = sent.message;
  }
  const ck = sender.chainKey;
  const keys = await deriveMessageKeys(await messageSeed(ck.key, provider), spqrKey, provider);
  const ciphertext = await provider.aes256CbcEncrypt(keys.cipherKey, keys.iv, plaintext);
  const pending = state.pending;
  const addresses = pending && ctx.local ? encodeAddresses(ctx.local, ctx.remote) : undefined;
  const message = await SignalMessage.create(
    {
      messageVersion: state.version,
      ratchetKey: PublicKey.deserialize(sender.ratchetKey),
      counter: ck.index,
      previousCounter: state.previousCounter,
      ciphertext,
      pqRatchet,
      addresses,
    },
    (bytes) => hmac8(provider, keys.macKey, state.localIdentity, remoteIdentity, bytes),
  );
  let out: EncryptedMessage;
  if (pending) {
    const prekeyMessage = PreKeySignalMessage.create({
      messageVersion: state.version,
      registrationId: state.localRegistrationId,
      preKeyId: pending.preKeyId,
      signedPreKeyId: pending.signedPreKeyId,
      kyberPreKeyId: pending.kyberPreKeyId,
      kyberCiphertext: pending.kyberCiphertext,
      baseKey: PublicKey.deserialize(pending.baseKey),
      identityKey: PublicKey.deserialize(state.localIdentity),
      message,
    });
    out = { type: 'prekey', body: prekeyMessage.serializedView };
  } else {
    out = { type: 'whisper', body: message.serializedView };
  }
  if (ck.index >= 0xffff_ffff) throw new RangeError('sending chain exhausted');
  sender.chainKey = { index: ck.index + 1, key: await nextChainKey(ck.key, provider) };

  const theirIdentity = PublicKey.deserialize(remoteIdentity);
  await checkTrusted(ctx, theirIdentity, 'sending');
  const record = SessionRecord.fromParts(state, old.previousStates);
  await writeAll(async (w) => {
    await saveIdentityStep(ctx, w, theirIdentity);
    await saveSessionStep(ctx, w, record, old);
  });
  return out;
}

/** `SessionCipher.hasSession`: a current state that can send, not stale. */
export async function hasUsableSession(ctx: ProtocolContext): Promise<boolean> {
  const record = await storeCall('getSession', () => ctx.store.getSession(ctx.remote));
  return record !== null && record.hasCurrentState(ctx.now());
}

// ---------------------------------------------------------------------------------------------
// Decrypt

export async function decryptMessage(
  ctx: ProtocolContext,
  type: WireMessageType,
  body: Uint8Array,
): Promise<DecryptedMessage> {
  return type === 'prekey' ? decryptPreKey(ctx, body) : decryptWhisper(ctx, body);
}

async function decryptWhisper(ctx: ProtocolContext, body: Uint8Array): Promise<DecryptedMessage> {
  const message = SignalMessage.deserialize(body);
  const old = await storeCall('getSession', () => ctx.store.getSession(ctx.remote));
  if (!old) throw new SessionNotFoundError(ctx.remote);
  const { plaintext, record } = await decryptFromRecord(ctx, old, message, 'whisper');
  const state = record.currentState as SessionState;
  const theirIdentity = PublicKey.deserialize(state.remoteIdentity as Uint8Array);
  await checkTrusted(ctx, theirIdentity, 'receiving');
  await writeAll(async (w) => {
    await saveIdentityStep(ctx, w, theirIdentity);
    await saveSessionStep(ctx, w, record, old);
  });
  return { plaintext, sessionVersion: state.version, newSession: false };
}

async function decryptPreKey(ctx: ProtocolContext, body: Uint8Array): Promise<DecryptedMessage> {
  const { store } = ctx;
  const message = PreKeySignalMessage.deserialize(body);
  const old = await storeCall('getSession', () => store.getSession(ctx.remote));
  await checkTrusted(ctx, message.identityKey, 'receiving');

  const baseKeyBytes = message.baseKey.serialize();
  let record = matchBaseKey(old, message.messageVersion, baseKeyBytes);
  let used: { preKey: PreKeyRecord | undefined; kyberPreKeyId: number | undefined } | undefined;
  if (record) {
    // A repeated PreKey message for a session we already built: its identity must be the session's.
    const remote = record.currentState?.remoteIdentity;
    if (!remote || !bytesEqual(remote, message.identityKey.serialize())) {
      throw new E2eeError(
        RatchetErrorCode.IdentityMismatch,
        'identity key differs from the established session',
      );
    }
  } else {
    const built = await buildResponderState(ctx, message);
    record = promote(old, built.state);
    used = { preKey: built.preKey, kyberPreKeyId: built.kyberPreKeyId };
  }

  const { plaintext, record: updated } = await decryptFromRecord(ctx, record, message.message, 'prekey');
  const state = updated.currentState as SessionState;
  await writeAll(async (w) => {
    await saveSessionStep(ctx, w, updated, old);
    const preKey = used?.preKey;
    if (preKey) {
      await w.do(
        'removePreKey',
        () => store.removePreKey(preKey.id),
        () => () => store.savePreKey(preKey.id, preKey),
      );
    }
    await saveIdentityStep(ctx, w, message.identityKey);
    const kyberId = used?.kyberPreKeyId;
    if (kyberId !== undefined) {
      await w.do('markKyberPreKeyUsed', () =>
        store.markKyberPreKeyUsed(kyberId, message.signedPreKeyId, message.baseKey),
      );
    }
  });
  return { plaintext, sessionVersion: state.version, newSession: used !== undefined };
}

/** libsignal's `promote_matching_session`: a state with this version and Alice base key, made current. */
function matchBaseKey(
  old: SessionRecord | null,
  version: number,
  baseKey: Uint8Array,
): SessionRecord | undefined {
  if (!old) return undefined;
  const current = old.currentState;
  if (current && current.version === version && constantTimeEqual(current.aliceBaseKey, baseKey)) return old;
  const previous = old.previousStates;
  for (let i = 0; i < previous.length; i++) {
    let s: SessionState;
    try {
      s = SessionState.decode(previous[i] as Uint8Array);
    } catch {
      continue;
    }
    if (
      s.version === version &&
      s.aliceBaseKey.length === baseKey.length &&
      constantTimeEqual(s.aliceBaseKey, baseKey)
    ) {
      const rest = previous.filter((_, j) => j !== i);
      return SessionRecord.fromParts(s, current ? archive(rest, current) : rest);
    }
  }
  return undefined;
}

async function buildResponderState(
  ctx: ProtocolContext,
  message: PreKeySignalMessage,
): Promise<{ state: SessionState; preKey: PreKeyRecord | undefined; kyberPreKeyId: number | undefined }> {
  const { store, provider } = ctx;
  const version = message.messageVersion;
  if (version === SESSION_VERSION_X3DH && !ctx.acceptX3dh) {
    throw new E2eeError(
      RatchetErrorCode.X3dhNotAccepted,
      'X3DH (version 3) PreKey messages are not accepted',
    );
  }
  const pqxdh = version === SESSION_VERSION_PQXDH;
  const signed = await storeCall('getSignedPreKey', () => store.getSignedPreKey(message.signedPreKeyId));
  if (!signed) throw new E2eeError(RatchetErrorCode.InvalidSignedPreKeyId, 'unknown signed pre-key id');
  let kyberSecret: Uint8Array | undefined;
  let kyberPreKeyId: number | undefined;
  if (pqxdh) {
    if (message.kyberPreKeyId === undefined || !message.kyberCiphertext) {
      throw new E2eeError(
        RatchetErrorCode.MissingKyberPreKey,
        'version-4 PreKey message without a Kyber part',
      );
    }
    kyberPreKeyId = message.kyberPreKeyId;
    const kyber = await storeCall('getKyberPreKey', () => store.getKyberPreKey(kyberPreKeyId as number));
    if (!kyber) throw new E2eeError(RatchetErrorCode.InvalidKyberPreKeyId, 'unknown Kyber pre-key id');
    kyberSecret = kemDecapsulate(message.kyberCiphertext, kyber.keyPair.secretKey);
  }
  let preKey: PreKeyRecord | undefined;
  if (message.preKeyId !== undefined) {
    const id = message.preKeyId;
    preKey = (await storeCall('getPreKey', () => store.getPreKey(id))) ?? undefined;
    if (!preKey) throw new E2eeError(RatchetErrorCode.InvalidPreKeyId, 'unknown one-time pre-key id');
  }
  if (!message.baseKey.isCanonical()) {
    throw new InvalidKeyError('incoming base key is invalid', { code: RatchetErrorCode.InvalidBaseKey });
  }
  const ours = await storeCall('getIdentityKeyPair', () => store.getIdentityKeyPair());
  const localRegistrationId = await storeCall('getLocalRegistrationId', () => store.getLocalRegistrationId());
  const spk = signed.keyPair;
  ctx.ratchetKeyCache = { publicKey: spk.publicKey.serialize(), privateKey: spk.privateKey };
  const secret = await responderSecret(
    {
      ourIdentity: ours.privateKey,
      ourSignedPreKey: spk.privateKey,
      ourOneTimePreKey: preKey?.keyPair.privateKey,
      theirIdentity: message.identityKey,
      theirBase: message.baseKey,
      kyberSharedSecret: kyberSecret,
    },
    provider,
  );
  const keys = await deriveHandshakeKeys(secret, pqxdh, provider);
  secret.fill(0);

  const state = new SessionState();
  state.version = version;
  state.localIdentity = ours.publicKey.serialize();
  state.remoteIdentity = message.identityKey.serialize();
  state.rootKey = keys.rootKey;
  state.senderChain = {
    ratchetKey: spk.publicKey.serialize(),
    ratchetPrivate: spk.privateKey.serialize(),
    chainKey: { index: 0, key: keys.chainKey },
  };
  state.localRegistrationId = localRegistrationId;
  state.remoteRegistrationId = message.registrationId;
  state.aliceBaseKey = message.baseKey.serialize();
  if (keys.spqrAuthKey) state.spqr = await spqrInit(keys.spqrAuthKey, false, provider);
  return { state, preKey, kyberPreKeyId };
}

/**
 * libsignal's `try_decrypt_from_record`: the current state, then (whisper only) each archived state;
 * a success with an archived state promotes it. A duplicate stops the search. Returns a new record.
 */
async function decryptFromRecord(
  ctx: ProtocolContext,
  record: SessionRecord,
  message: SignalMessage,
  type: WireMessageType,
): Promise<{ plaintext: Uint8Array; record: SessionRecord }> {
  const current = record.currentState;
  let firstError: unknown;
  if (current) {
    if (current.version !== message.messageVersion) {
      firstError = invalidMessage('message version does not match the session');
    } else {
      const state = current.clone();
      try {
        const plaintext = await decryptWithState(ctx, state, message);
        return { plaintext, record: SessionRecord.fromParts(state, record.previousStates) };
      } catch (err) {
        if (err instanceof DuplicateMessageError || !isProtocolFailure(err)) throw err;
        firstError = err;
      }
    }
    if (type === 'prekey') throw finalError(firstError);
  } else if (type === 'prekey') {
    throw invalidMessage('decryption failed');
  }
  const previous = record.previousStates;
  for (let i = 0; i < previous.length; i++) {
    let state: SessionState;
    try {
      state = SessionState.decode(previous[i] as Uint8Array);
    } catch {
      continue;
    }
    if (state.version !== message.messageVersion) continue;
    try {
      const plaintext = await decryptWithState(ctx, state, message);
      const rest = previous.filter((_, j) => j !== i);
      return { plaintext, record: SessionRecord.fromParts(state, current ? archive(rest, current) : rest) };
    } catch (err) {
      if (err instanceof DuplicateMessageError || !isProtocolFailure(err)) throw err;
      firstError ??= err;
    }
  }
  throw finalError(firstError);
}

/** Errors that mean "this state cannot decrypt this message" (the search goes on). */
function isProtocolFailure(err: unknown): boolean {
  return E2eeError.is(err);
}

/** What the caller sees when no state decrypts: a forward-jump refusal as such, else INVALID_MESSAGE. */
function finalError(first: unknown): E2eeError {
  if (first instanceof MessageGapError) return first;
  return invalidMessage('decryption failed', first);
}

/** One state's attempt (libsignal's `TripleRatchet::decrypt`); mutates `state` (a clone). */
async function decryptWithState(
  ctx: ProtocolContext,
  state: SessionState,
  message: SignalMessage,
): Promise<Uint8Array> {
  const { provider } = ctx;
  const remoteIdentity = state.remoteIdentity;
  if (!remoteIdentity) throw invalidMessage('session has no remote identity');
  const self = isSelfSession(ctx, state.localIdentity, remoteIdentity);
  const maxJump = self ? 0xffff_ffff : MAX_FORWARD_JUMPS;
  const theirRatchet = message.ratchetKey.serialize();

  let chain = findChain(state, theirRatchet);
  if (!chain) chain = await dhRatchetStep(ctx, state, message.ratchetKey, theirRatchet);

  const seed = await consumeMessageKey(chain, message.counter, maxJump, provider);
  let spqrKey: Uint8Array | undefined;
  if (state.spqr) spqrKey = await spqrRecv(state.spqr, message.pqRatchet, maxJump, provider);
  const keys = await deriveMessageKeys(seed, spqrKey, provider);

  const expected = await hmac8(provider, keys.macKey, remoteIdentity, state.localIdentity, message.macInput);
  if (!constantTimeEqual(expected, message.mac)) {
    throw new VerificationError('MAC verification failed', { code: ErrorCode.InvalidMac });
  }
  if (message.addresses) {
    const want = ctx.local ? encodeAddresses(ctx.remote, ctx.local) : undefined;
    if (!want || !constantTimeEqual(want, message.addresses)) throw invalidMessage('addresses do not match');
  }
  const plaintext = await provider.aes256CbcDecrypt(keys.cipherKey, keys.iv, message.ciphertext);
  state.pending = undefined;
  return plaintext;
}

function findChain(state: SessionState, ratchetKey: Uint8Array): ReceiverChain | undefined {
  for (const c of state.receiverChains) if (bytesEqual(c.ratchetKey, ratchetKey)) return c;
  return undefined;
}

async function dhRatchetStep(
  ctx: ProtocolContext,
  state: SessionState,
  their: PublicKey,
  theirBytes: Uint8Array,
): Promise<ReceiverChain> {
  const { provider } = ctx;
  const sender = state.senderChain;
  if (!sender) throw invalidMessage('session has no sender chain');
  const ourPrivate = cachedPrivateKey(ctx, sender.ratchetKey, sender.ratchetPrivate);
  const receiving = await kdfRootKey(state.rootKey, await ourPrivate.agree(their, provider), provider);
  const next = await KeyPair.generate(provider);
  const sending = await kdfRootKey(receiving.rootKey, await next.privateKey.agree(their, provider), provider);
  ctx.ratchetKeyCache = { publicKey: next.publicKey.serialize(), privateKey: next.privateKey };
  state.previousCounter = Math.max(0, sender.chainKey.index - 1);
  state.rootKey = sending.rootKey.slice();
  const chain: ReceiverChain = {
    ratchetKey: theirBytes,
    chainKey: { index: 0, key: receiving.chainKey.slice() },
    messageKeys: [],
  };
  state.receiverChains.push(chain);
  while (state.receiverChains.length > MAX_RECEIVER_CHAINS) state.receiverChains.shift();
  state.senderChain = {
    ratchetKey: next.publicKey.serialize(),
    ratchetPrivate: next.privateKey.serialize(),
    chainKey: { index: 0, key: sending.chainKey.slice() },
  };
  return chain;
}

/** libsignal's `consume_message_key`: returns the seed for `counter`, storing skipped seeds. */
async function consumeMessageKey(
  chain: ReceiverChain,
  counter: number,
  maxJump: number,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ck = chain.chainKey;
  if (ck.index > counter) {
    const at = chain.messageKeys.findIndex((m) => m.index === counter);
    if (at < 0) throw new DuplicateMessageError();
    const found = chain.messageKeys[at] as SkippedKey;
    chain.messageKeys.splice(at, 1);
    return found.seed;
  }
  if (counter - ck.index > maxJump) throw new MessageGapError();
  if (counter >= 0xffff_ffff) throw invalidMessage('message counter out of range');
  let key = ck.key;
  let index = ck.index;
  // Seeds older than the newest MAX_MESSAGE_KEYS would be dropped at once: skip deriving them.
  const keepFrom = counter - MAX_MESSAGE_KEYS;
  const fresh: SkippedKey[] = [];
  while (index < counter) {
    if (index >= keepFrom) fresh.push({ index, seed: await messageSeed(key, provider) });
    key = await nextChainKey(key, provider);
    index++;
  }
  if (fresh.length > 0) {
    fresh.reverse();
    const merged = fresh.concat(chain.messageKeys);
    if (merged.length > MAX_MESSAGE_KEYS) merged.length = MAX_MESSAGE_KEYS;
    chain.messageKeys = merged;
  }
  const seed = await messageSeed(key, provider);
  chain.chainKey = { index: counter + 1, key: await nextChainKey(key, provider) };
  return seed;
}
