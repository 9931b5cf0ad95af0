/**
 * The SPQR V1 ratchet one message at a time (spqr `lib.rs` send/recv): the braid produces payloads and
 * epoch secrets, the chain turns them into per-message keys. Each call returns a new state; the given
 * state is never changed, so a failed call (typed error) leaves it byte-identical.
 */
import type { CryptoProvider } from '@e2ee-kit/core';
import { authInit } from './authenticator.js';
import { type BraidEntropy, braidRecv, braidSend, type EpochSecret, initialBraid } from './braid.js';
import {
  addEpoch,
  cloneChain,
  DEFAULT_MAX_JUMP,
  DEFAULT_MAX_OOO_KEYS,
  newChain,
  recvKey,
  recvKeyCost,
  sendKey,
} from './chain.js';
import { SpqrErrorCode, spqrError } from './errors.js';
import { parseSpqrMessage, SPQR_VERSION_V1, serializeSpqrMessage } from './message.js';
import { generateKeys } from './mlkem768.js';
import { SpqrState, type SpqrStateData, stateData } from './state.js';

export interface SpqrInitOptions {
  /** Largest forward jump of a receiving chain (libsignal: 25 000; u32 max for self-sessions). */
  maxJump?: number;
  /** Skipped keys kept per receiving chain (libsignal: 2 000). */
  maxOooKeys?: number;
}

/** A new state from the PQXDH auth key (bytes 64…96 of the PQXDH output); `initiator` is direction A2B. */
export async function initSpqr(
  authKey: Uint8Array,
  role: 'initiator' | 'responder',
  provider: CryptoProvider,
  options: SpqrInitOptions = {},
): Promise<SpqrState> {
  if (!(authKey instanceof Uint8Array) || authKey.length !== 32)
    throw new RangeError('auth key must be 32 bytes');
  if (role !== 'initiator' && role !== 'responder')
    throw new TypeError('role must be initiator or responder');
  const maxJump = options.maxJump ?? DEFAULT_MAX_JUMP;
  const maxOooKeys = options.maxOooKeys ?? DEFAULT_MAX_OOO_KEYS;
  if (!Number.isInteger(maxJump) || maxJump < 1 || maxJump > 0xffff_ffff) throw new RangeError('bad maxJump');
  if (!Number.isInteger(maxOooKeys) || maxOooKeys < 1 || maxOooKeys > 100_000)
    throw new RangeError('bad maxOooKeys');
  const a2b = role === 'initiator';
  const key = authKey.slice();
  const auth = await authInit(key, provider);
  const chain = await newChain(key, a2b, provider, maxJump, maxOooKeys);
  return SpqrState._create({ a2b, braid: initialBraid(a2b, auth), chain });
}

let lastEntropy: { provider: CryptoProvider; entropy: BraidEntropy } | undefined;
/**
 * Fresh randomness from the provider (`withRandom` replaces it in tests). The closures read the
 * provider when called, so the last provider's pair is reused (a send made them on every message).
 */
export function providerEntropy(provider: CryptoProvider): BraidEntropy {
  if (lastEntropy?.provider !== provider) {
    const entropy: BraidEntropy = {
      keys: () => generateKeys(provider.randomBytes(64)),
      encapsSeed: () => provider.randomBytes(32),
    };
    lastEntropy = { provider, entropy };
  }
  return lastEntropy.entropy;
}

export interface SpqrSendResult {
  readonly state: SpqrState;
  /** The `pq_ratchet` bytes for SignalMessage field 5. */
  readonly pqRatchet: Uint8Array;
  /** The SPQR message key (salt of the Double-Ratchet message keys). Always present for V1. */
  readonly messageKey: Uint8Array;
}

/** @internal The same with the epoch secret this step produced (tests compare it with libsignal's). */
export async function spqrSendDetailed(
  state: SpqrState,
  provider: CryptoProvider,
  entropy: BraidEntropy = providerEntropy(provider),
): Promise<SpqrSendResult & { secret?: EpochSecret }> {
  const d = stateData(state);
  const sent = await braidSend(d.braid, provider, entropy);
  const chain = cloneChain(d.chain);
  if (sent.secret) await addEpoch(chain, sent.secret.epoch, sent.secret.secret, provider);
  const { index, key } = await sendKey(chain, sent.msg.epoch - 1, provider);
  const pqRatchet = serializeSpqrMessage({ ...sent.msg, index });
  const next = SpqrState._create({ a2b: d.a2b, braid: sent.braid, chain });
  return sent.secret
    ? { state: next, pqRatchet, messageKey: key, secret: sent.secret }
    : { state: next, pqRatchet, messageKey: key };
}

/** Sends one message: the next braid payload and its message key. */
export async function spqrSend(state: SpqrState, provider: CryptoProvider): Promise<SpqrSendResult> {
  const { state: s, pqRatchet, messageKey } = await spqrSendDetailed(state, provider);
  return { state: s, pqRatchet, messageKey };
}

export interface SpqrRecvResult {
  readonly state: SpqrState;
  /** The message's SPQR key, or `undefined` when it carries none (epoch 1 index 0, or a higher version). */
  readonly messageKey: Uint8Array | undefined;
}

/** @internal The same with the epoch secret this step produced. */
export async function spqrRecvDetailed(
  state: SpqrState,
  pqRatchet: Uint8Array,
  provider: CryptoProvider,
): Promise<SpqrRecvResult & { secret?: EpochSecret }> {
  const d = stateData(state);
  if (!(pqRatchet instanceof Uint8Array)) throw new TypeError('pq_ratchet must be a Uint8Array');
  // Empty or V0: the peer would downgrade us; refused like libsignal ≥ 0.92 (min version V1).
  if (pqRatchet.length === 0 || pqRatchet[0] === 0)
    throw spqrError(SpqrErrorCode.MinimumVersion, 'peer does not speak SPQR V1');
  const msg = parseSpqrMessage(asV1(d, pqRatchet));
  const got = await braidRecv(d.braid, msg, provider);
  const chain = cloneChain(d.chain);
  if (got.secret) await addEpoch(chain, got.secret.epoch, got.secret.secret, provider);
  const keyEpoch = msg.epoch - 1;
  const messageKey =
    keyEpoch === 0 && msg.index === 0 ? undefined : await recvKey(chain, keyEpoch, msg.index, provider);
  const next = SpqrState._create({ a2b: d.a2b, braid: got.braid, chain });
  return got.secret ? { state: next, messageKey, secret: got.secret } : { state: next, messageKey };
}

/**
 * A version byte other than 1, as libsignal 0.103.0 (spqr 1.6.0) treats it (spec `spqr.md` §6.3): read
 * as V1 while nothing has been received yet (negotiation still open), refused after. spqr 1.5.x
 * ignored such messages instead; no libsignal ever sends one, so only hostile input differs.
 */
function asV1(d: SpqrStateData, pqRatchet: Uint8Array): Uint8Array {
  if (pqRatchet[0] === SPQR_VERSION_V1) return pqRatchet;
  if (hasReceived(d)) throw spqrError(SpqrErrorCode.VersionMismatch, 'version mismatch after negotiation');
  const v1 = pqRatchet.slice();
  v1[0] = SPQR_VERSION_V1;
  return v1;
}

/**
 * True once a message key from the peer was taken (spqr deletes its negotiation block at the first
 * successful receive; every libsignal ≥ 0.92 message carries a key, so the two agree for them).
 */
function hasReceived(d: SpqrStateData): boolean {
  const c = d.chain;
  return c.currentEpoch > 0 || c.links.some((l) => l.recv.ctr > 0);
}

/**
 * Fixed price, in chain steps, of the braid's own work on one message (at most one ML-KEM-768
 * operation or one erasure decode, plus a few HMACs), measured roughly on noble against an HKDF step.
 */
export const SPQR_BRAID_STEP_COST = 128;

/**
 * What `spqrRecv(state, pqRatchet)` will cost in chain steps (the braid's fixed price plus the chain
 * walk), with the chain's refusals (trimmed, repeated, too far, wrong epoch) raised before any work.
 * Malformed bytes → the same typed errors as `spqrRecv`.
 */
export function spqrRecvCost(state: SpqrState, pqRatchet: Uint8Array): number {
  const d = stateData(state);
  if (!(pqRatchet instanceof Uint8Array)) throw new TypeError('pq_ratchet must be a Uint8Array');
  if (pqRatchet.length === 0 || pqRatchet[0] === 0)
    throw spqrError(SpqrErrorCode.MinimumVersion, 'peer does not speak SPQR V1');
  const msg = parseSpqrMessage(asV1(d, pqRatchet));
  const keyEpoch = msg.epoch - 1;
  if (keyEpoch === 0 && msg.index === 0) return SPQR_BRAID_STEP_COST;
  return SPQR_BRAID_STEP_COST + recvKeyCost(d.chain, keyEpoch, msg.index);
}

/** Receives one message's `pq_ratchet` bytes: the new state and the message key. */
export async function spqrRecv(
  state: SpqrState,
  pqRatchet: Uint8Array,
  provider: CryptoProvider,
): Promise<SpqrRecvResult> {
  const { state: s, messageKey } = await spqrRecvDetailed(state, pqRatchet, provider);
  return { state: s, messageKey };
}
