/**
 * SPQR-lite (spec §5.4–§5.5): the SPQR V1 message framing and its epoch-0 symmetric chains, without the
 * ML-KEM braid. We always send payload type `None` at epoch 1; we accept any payload from the peer
 * (chunks are parsed and ignored), keyed by chain epoch 0. This is what libsignal ≥ 0.92 needs to
 * accept our messages and to let us read theirs. It adds no post-quantum healing.
 */
import { type CryptoProvider, DecodeError, encodeVarint, utf8 } from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS } from './constants.js';
import { RatchetErrorCode } from './errors.js';
import { type SyncKdf, syncKdf } from './kdf.js';
import type { SpqrLite } from './records/session-state.js';
import { SpqrErrorCode, spqrError } from './spqr/errors.js';
import { STEPS_PER_YIELD, yieldToEventLoop } from './work-budget.js';

const INFO_START = /* @__PURE__ */ utf8('Signal PQ Ratchet V1 Chain  Start');
const INFO_NEXT = /* @__PURE__ */ utf8('Signal PQ Ratchet V1 Chain Next');
const TRIM_SIZE = Math.floor((MAX_MESSAGE_KEYS * 11) / 10);
const CHUNK_TYPES = new Set([1, 2, 3, 5, 6]);

/** Initial state from the PQXDH-derived auth key; `a2b` for the initiator. */
export async function spqrInit(
  authKey: Uint8Array,
  a2b: boolean,
  provider: CryptoProvider,
): Promise<SpqrLite> {
  const g = await provider.hkdfSha256(authKey, undefined, INFO_START, 96);
  const a2bSeed = g.slice(32, 64);
  const b2aSeed = g.slice(64, 96);
  return {
    a2b,
    sendCtr: 0,
    sendNext: a2b ? a2bSeed : b2aSeed,
    recvCtr: 0,
    recvNext: a2b ? b2aSeed : a2bSeed,
    recvPrev: new Map(),
  };
}

function stepInfo(ctr: number): Uint8Array {
  const info = new Uint8Array(4 + INFO_NEXT.length);
  info[0] = ctr >>> 24;
  info[1] = (ctr >>> 16) & 0xff;
  info[2] = (ctr >>> 8) & 0xff;
  info[3] = ctr & 0xff;
  info.set(INFO_NEXT, 4);
  return info;
}

async function step(
  next: Uint8Array,
  ctr: number,
  provider: CryptoProvider,
): Promise<{ next: Uint8Array; key: Uint8Array }> {
  const o = await provider.hkdfSha256(next, undefined, stepInfo(ctr), 64);
  return { next: o.subarray(0, 32), key: o.subarray(32, 64) };
}

/** `step` on the provider's synchronous HKDF (same bytes), for chain walks. */
function stepSync(next: Uint8Array, ctr: number, kdf: SyncKdf): { next: Uint8Array; key: Uint8Array } {
  const o = kdf.hkdf(next, undefined, stepInfo(ctr), 64);
  return { next: o.subarray(0, 32), key: o.subarray(32, 64) };
}

/** A step whose key would be dropped: HKDF's first 32 bytes are the same, so only those are made. */
function stepNextOnly(next: Uint8Array, ctr: number, provider: CryptoProvider): Promise<Uint8Array> {
  return provider.hkdfSha256(next, undefined, stepInfo(ctr), 32);
}

/** Sending: advances our chain (mutates `q`) and returns the `pq_ratchet` bytes and the message key. */
export async function spqrSend(
  q: SpqrLite,
  provider: CryptoProvider,
): Promise<{ message: Uint8Array; key: Uint8Array }> {
  // Typed, as the braid's chain (`checkStep`): a stored counter at 2^32 − 1 cannot number a message.
  if (q.sendCtr >= 0xffff_ffff) throw spqrError(SpqrErrorCode.CounterExhausted, 'send counter exhausted');
  const ctr = q.sendCtr + 1;
  const { next, key } = await step(q.sendNext, ctr, provider);
  q.sendNext = next;
  q.sendCtr = ctr;
  const idx = encodeVarint(ctr);
  const message = new Uint8Array(3 + idx.length);
  message[0] = 0x01; // version V1
  message[1] = 0x01; // epoch 1 (keyed by chain epoch 0)
  message.set(idx, 2);
  message[2 + idx.length] = 0x00; // payload None
  return { message, key };
}

function invalid(message: string): DecodeError {
  return new DecodeError(`post-quantum ratchet: ${message}`, { code: RatchetErrorCode.InvalidMessage });
}

function readVarint(b: Uint8Array, at: number): { value: number; next: number } {
  let value = 0;
  let mul = 1;
  for (let i = at; i < b.length && i < at + 10; i++) {
    const byte = b[i] as number;
    value += (byte & 0x7f) * mul;
    if ((byte & 0x80) === 0) return { value, next: i + 1 };
    mul *= 0x80;
  }
  throw invalid('message truncated');
}

/**
 * Receiving, first half: validates the peer's `pq_ratchet` bytes and returns the chain index whose key
 * the message uses, or `undefined` when it carries none (an unknown higher version, or a sender still
 * negotiating).
 */
export function spqrIndex(pqRatchet: Uint8Array): number | undefined {
  if (pqRatchet.length === 0 || pqRatchet[0] === 0)
    throw invalid('peer does not speak SPQR (minimum version V1)');
  // An unknown higher version is ignored (spqr's `msg_version`): no key, state unchanged.
  if (pqRatchet[0] !== 1) return undefined;
  const epoch = readVarint(pqRatchet, 1);
  const index = readVarint(pqRatchet, epoch.next);
  if (index.value > 0xffff_ffff) throw invalid('index out of range');
  if (index.next >= pqRatchet.length) throw invalid('message truncated');
  const type = pqRatchet[index.next] as number;
  if (type > 6) throw invalid('unknown payload type');
  if (CHUNK_TYPES.has(type)) {
    const chunk = readVarint(pqRatchet, index.next + 1);
    if (chunk.value > 65535 || chunk.next + 32 > pqRatchet.length) throw invalid('chunk malformed');
  }
  if (epoch.value !== 1) throw invalid('epoch out of range');
  // A sender still negotiating (min version V0, libsignal 0.74–0.91) sends index 0: no key.
  if (index.value === 0) return undefined;
  return index.value;
}

/** Checks index `at` against `q` before any work (trimmed, repeated, too far); returns the steps needed. */
export function spqrWalk(q: SpqrLite, at: number, maxJump: number): number {
  if (at < q.recvCtr) {
    if (!q.recvPrev.has(at))
      throw invalid(at + MAX_MESSAGE_KEYS < q.recvCtr ? 'key trimmed' : 'key already requested');
    return 0;
  }
  if (at === q.recvCtr) throw invalid('key already requested');
  if (at - q.recvCtr > maxJump) throw invalid('key jump too large');
  return at - q.recvCtr;
}

/**
 * Receiving, second half: the SPQR message key for index `at` (checked with `spqrWalk`), updating `q`
 * (callers pass a clone and keep it only if the whole decrypt succeeds).
 */
export async function spqrRecv(q: SpqrLite, at: number, provider: CryptoProvider): Promise<Uint8Array> {
  if (at < q.recvCtr) {
    const k = q.recvPrev.get(at);
    if (!k) throw invalid('key already requested');
    q.recvPrev.delete(at);
    return k;
  }
  if (at > q.recvCtr + MAX_MESSAGE_KEYS) q.recvPrev.clear();
  let next = q.recvNext;
  let ctr = q.recvCtr;
  let untilYield = STEPS_PER_YIELD;
  const kdf = syncKdf(provider);
  while (at > ctr + 1) {
    ctr++;
    if (ctr + MAX_MESSAGE_KEYS >= at) {
      const s = kdf ? stepSync(next, ctr, kdf) : await step(next, ctr, provider);
      next = s.next;
      q.recvPrev.set(ctr, s.key);
    } else {
      next = kdf ? kdf.hkdf(next, undefined, stepInfo(ctr), 32) : await stepNextOnly(next, ctr, provider);
    }
    if (--untilYield === 0) {
      untilYield = STEPS_PER_YIELD;
      await yieldToEventLoop();
    }
  }
  if (q.recvPrev.size >= TRIM_SIZE) {
    const horizon = ctr - MAX_MESSAGE_KEYS;
    for (const k of q.recvPrev.keys()) if (k < horizon) q.recvPrev.delete(k);
  }
  ctr++;
  const last = await step(next, ctr, provider);
  q.recvNext = last.next;
  q.recvCtr = ctr;
  return last.key;
}

export const SPQR_MAX_JUMP = MAX_FORWARD_JUMPS;
