/**
 * Session setup: the initiator's PQXDH / X3DH from a bundle (`initiateSession`) and the responder's
 * state built from a PreKey message (`buildResponderState`).
 */
import {
  E2eeError,
  ErrorCode,
  InvalidKeyError,
  KemType,
  KeyPair,
  kemDecapsulate,
  kemEncapsulate,
  VerificationError,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { ownPreKeyBundle, type PreKeyBundle } from './bundle.js';
import { SESSION_VERSION_PQXDH, SESSION_VERSION_X3DH } from './constants.js';
import { isSelfSession, type ProtocolContext } from './context.js';
import { PreKeyNotFoundError, RatchetErrorCode } from './errors.js';
import { deriveHandshakeKeys, initiatorSecret, kdfRootKey, responderSecret } from './kdf.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import { archive, SessionRecord } from './records/session-record.js';
import { SessionState } from './records/session-state.js';
import { initSpqr } from './spqr/ratchet.js';
import type { SpqrState } from './spqr/state.js';
import type { PreKeySignalMessage } from './wire.js';
import { checkTrusted, readKey, saveIdentityStep, saveSessionStep, storeCall, writeAll } from './writes.js';

/** `deferred`: set inside a store transaction (no undo writes; after-commit effects are queued there). */
export async function initiateSession(
  ctx: ProtocolContext,
  given: PreKeyBundle,
  protocol: 'pqxdh' | 'x3dh',
  deferred?: (() => void)[],
): Promise<void> {
  // Another copy's bundle (an app that loads two copies of this package) is read as this copy's.
  const bundle = ownPreKeyBundle(given, 'bundle must be a PreKeyBundle');
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
  if (keys.spqrAuthKey) state.braid = await newBraid(ctx, state, keys.spqrAuthKey, 'initiator');

  const record = promote(old, state);
  await writeAll(async (w) => {
    // The identity last: its replacement is observable (approvals, the change callback).
    await saveSessionStep(ctx, w, record, old);
    await saveIdentityStep(ctx, w, theirIdentity);
  }, deferred);
}

/**
 * Every new PQXDH session runs the SPQR braid (record format 2). libsignal's chain limits: a forward
 * jump of 25,000, none (u32) for self-sessions — our decrypt work budget still bounds what one message
 * may cost.
 */
function newBraid(
  ctx: ProtocolContext,
  state: SessionState,
  authKey: Uint8Array,
  role: 'initiator' | 'responder',
): Promise<SpqrState> {
  const self = isSelfSession(ctx, state.localIdentity, state.remoteIdentity);
  return initSpqr(authKey, role, ctx.provider, self ? { maxJump: 0xffff_ffff } : {});
}

/** libsignal's `promote_state`: archive the current state (if any) and install `state`. */
export function promote(old: SessionRecord | null, state: SessionState): SessionRecord {
  if (!old) return SessionRecord.fromParts(state, []);
  const current = old.currentState;
  const previous = current ? archive(old.previousStates, current) : old.previousStates.slice();
  return SessionRecord.fromParts(state, previous);
}

export async function buildResponderState(
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
  // `readKey`: a record filed under another id is a DecodeError, not a later MAC failure.
  const signed = await readKey(store, 'getSignedPreKey', message.signedPreKeyId);
  if (!signed) throw new PreKeyNotFoundError('signed', message.signedPreKeyId, ctx.remote);
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
    const kyber = await readKey(store, 'getKyberPreKey', kyberPreKeyId);
    if (!kyber) throw new PreKeyNotFoundError('kyber', kyberPreKeyId, ctx.remote);
    kyberSecret = kemDecapsulate(message.kyberCiphertext, kyber.keyPair.secretKey);
  }
  let preKey: PreKeyRecord | undefined;
  if (message.preKeyId !== undefined) {
    const id = message.preKeyId;
    preKey = (await readKey(store, 'getPreKey', id)) ?? undefined;
    if (!preKey) throw new PreKeyNotFoundError('one-time', id, ctx.remote);
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
  if (keys.spqrAuthKey) state.braid = await newBraid(ctx, state, keys.spqrAuthKey, 'responder');
  return { state, preKey, kyberPreKeyId };
}
