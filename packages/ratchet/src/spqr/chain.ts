/**
 * SPQR's symmetric chains (spec `spqr.md` §5, §5.3): one link per chain epoch, each with a sending and a
 * receiving chain; a new epoch secret adds a link. Functions here mutate the `Chain` they are given —
 * callers work on a clone (`cloneChain`) and keep it only when the whole operation succeeds. A clone
 * shares its links with the original: only this module's functions change a link, each after copying
 * it (`ownSend`, `ownRecv`).
 */
import type { CryptoProvider } from '@e2ee-kit/core';
import { type SyncKdf, syncKdf } from '../kdf.js';
import { STEPS_PER_YIELD, yieldToEventLoop } from '../work-budget.js';
import { SpqrErrorCode, spqrError } from './errors.js';

// ASCII labels, built without TextEncoder (Hermes has none, and nothing global is read at load).
const enc = { encode: (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0)) };
const LABEL_START = enc.encode('Signal PQ Ratchet V1 Chain  Start');
const LABEL_ADD = enc.encode('Signal PQ Ratchet V1 Chain Add Epoch');
const LABEL_NEXT = enc.encode('Signal PQ Ratchet V1 Chain Next');

/** libsignal's defaults (spqr `ChainParams`). */
export const DEFAULT_MAX_JUMP = 25_000;
export const DEFAULT_MAX_OOO_KEYS = 2_000;
const U32_MAX = 0xffff_ffff;

export interface ChainDirection {
  ctr: number;
  /** The chain key for `ctr + 1`; erased (undefined) for sending chains of epochs we stopped sending in. */
  next: Uint8Array | undefined;
  /** Skipped keys by counter (receiving chains only). */
  prev: Map<number, Uint8Array>;
}

export interface ChainLink {
  send: ChainDirection;
  recv: ChainDirection;
}

export interface Chain {
  a2b: boolean;
  currentEpoch: number;
  sendEpoch: number;
  /** links[links.length − 1] is chain epoch `currentEpoch`. */
  links: ChainLink[];
  nextRoot: Uint8Array;
  maxJump: number;
  maxOooKeys: number;
}

function direction(next: Uint8Array): ChainDirection {
  return { ctr: 0, next, prev: new Map() };
}

function link(out: Uint8Array, a2b: boolean): ChainLink {
  const a = out.slice(32, 64);
  const b = out.slice(64, 96);
  return a2b ? { send: direction(a), recv: direction(b) } : { send: direction(b), recv: direction(a) };
}

export async function newChain(
  authKey: Uint8Array,
  a2b: boolean,
  provider: CryptoProvider,
  maxJump = DEFAULT_MAX_JUMP,
  maxOooKeys = DEFAULT_MAX_OOO_KEYS,
): Promise<Chain> {
  const out = await provider.hkdfSha256(authKey, undefined, LABEL_START, 96);
  return {
    a2b,
    currentEpoch: 0,
    sendEpoch: 0,
    links: [link(out, a2b)],
    nextRoot: out.slice(0, 32),
    maxJump,
    maxOooKeys,
  };
}

function cloneDirection(d: ChainDirection): ChainDirection {
  return { ctr: d.ctr, next: d.next, prev: d.prev.size === 0 ? new Map() : new Map(d.prev) };
}

/**
 * A chain for one operation: its own links array, the links themselves shared with `c` until this
 * chain's functions (`sendKey`, `recvKey`, `ownRecv`) replace the one link they change by a copy. A
 * message changes one direction of one link, so copying every link's two directions (and receiving
 * chains' skipped-key maps) on every message was mostly wasted.
 */
export function cloneChain(c: Chain): Chain {
  return { ...c, links: c.links.slice() };
}

/** Link i's sending direction, copied into a new link first (the old link may be another state's). */
function ownSend(c: Chain, i: number): ChainDirection {
  const l = c.links[i] as ChainLink;
  const send = cloneDirection(l.send);
  c.links[i] = { send, recv: l.recv };
  return send;
}

/** Link i's receiving direction, copied into a new link first (the old link may be another state's). */
export function ownRecv(c: Chain, i: number): ChainDirection {
  const l = c.links[i] as ChainLink;
  const recv = cloneDirection(l.recv);
  c.links[i] = { send: l.send, recv };
  return recv;
}

/** Adds chain epoch `epoch` (must be currentEpoch + 1) from its epoch secret. */
export async function addEpoch(c: Chain, epoch: number, secret: Uint8Array, provider: CryptoProvider) {
  if (epoch !== c.currentEpoch + 1)
    throw spqrError(SpqrErrorCode.EpochOutOfRange, 'epoch secret out of order');
  const out = await provider.hkdfSha256(secret, c.nextRoot, LABEL_ADD, 96);
  c.currentEpoch = epoch;
  c.nextRoot = out.slice(0, 32);
  c.links.push(link(out, c.a2b));
}

/** `BE32(ctr) ‖ label`, written byte by byte: a `DataView` per step cost more than the step's HMACs. */
function stepInfo(ctr: number): Uint8Array {
  const info = new Uint8Array(4 + LABEL_NEXT.length);
  info[0] = ctr >>> 24;
  info[1] = ctr >>> 16;
  info[2] = ctr >>> 8;
  info[3] = ctr;
  info.set(LABEL_NEXT, 4);
  return info;
}

function checkStep(d: ChainDirection): Uint8Array {
  if (!d.next) throw spqrError(SpqrErrorCode.EpochOutOfRange, 'sending chain erased');
  if (d.ctr >= U32_MAX) throw spqrError(SpqrErrorCode.CounterExhausted, 'chain counter exhausted');
  return d.next;
}

async function step(
  d: ChainDirection,
  provider: CryptoProvider,
  sync?: SyncKdf,
): Promise<{ ctr: number; key: Uint8Array }> {
  const next = checkStep(d);
  const ctr = d.ctr + 1;
  // A provider's synchronous HKDF (same bytes) spares a promise per step on long walks.
  const out = sync
    ? sync.hkdf(next, undefined, stepInfo(ctr), 64)
    : await provider.hkdfSha256(next, undefined, stepInfo(ctr), 64);
  d.next = out.slice(0, 32);
  d.ctr = ctr;
  return { ctr, key: out.slice(32, 64) };
}

/**
 * A step whose key would be dropped at once (older than the kept window): HKDF-Expand's first block is
 * the next chain key whatever the output length, so only those 32 bytes are made (one HMAC less).
 */
async function stepNextOnly(d: ChainDirection, provider: CryptoProvider, sync?: SyncKdf): Promise<void> {
  const next = checkStep(d);
  const ctr = d.ctr + 1;
  d.next = sync
    ? sync.hkdf(next, undefined, stepInfo(ctr), 32)
    : await provider.hkdfSha256(next, undefined, stepInfo(ctr), 32);
  d.ctr = ctr;
}

function linkIndex(c: Chain, epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > c.currentEpoch)
    throw spqrError(SpqrErrorCode.EpochOutOfRange, 'epoch not in valid range');
  const back = c.currentEpoch - epoch;
  if (back >= c.links.length) throw spqrError(SpqrErrorCode.EpochOutOfRange, 'epoch not in valid range');
  return c.links.length - 1 - back;
}

/** Next sending key in chain epoch `epoch`; moving the send epoch forward drops links older than it − 1. */
export async function sendKey(
  c: Chain,
  epoch: number,
  provider: CryptoProvider,
): Promise<{ index: number; key: Uint8Array }> {
  if (epoch < c.sendEpoch) throw spqrError(SpqrErrorCode.EpochOutOfRange, 'send epoch decreased');
  let i = linkIndex(c, epoch);
  if (c.sendEpoch !== epoch) {
    c.sendEpoch = epoch;
    while (i > 1) {
      c.links.shift();
      i--;
    }
    for (let k = 0; k < i; k++) ownSend(c, k).next = undefined;
  }
  // One step per message: the provider's synchronous HKDF when it has one (same bytes, no promise).
  const { ctr, key } = await step(ownSend(c, i), provider, syncKdf(provider));
  return { index: ctr, key };
}

/** The receiving key for counter `at` of chain epoch `epoch` (spqr `ChainEpochDirection::key`). */
export async function recvKey(
  c: Chain,
  epoch: number,
  at: number,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const d = ownRecv(c, linkIndex(c, epoch));
  if (at < d.ctr) {
    if (at + c.maxOooKeys < d.ctr) throw spqrError(SpqrErrorCode.KeyTrimmed, 'key trimmed');
    const k = d.prev.get(at);
    if (!k) throw spqrError(SpqrErrorCode.KeyAlreadyRequested, 'key already requested');
    d.prev.delete(at);
    return k;
  }
  if (at === d.ctr) throw spqrError(SpqrErrorCode.KeyAlreadyRequested, 'key already requested');
  if (at - d.ctr > c.maxJump) throw spqrError(SpqrErrorCode.KeyJump, 'key jump too large');
  if (at > d.ctr + c.maxOooKeys) d.prev.clear();
  const sync = syncKdf(provider);
  let untilYield = STEPS_PER_YIELD;
  while (at > d.ctr + 1) {
    // Same accept/reject decisions as spqr: a skipped key is kept iff ctr + maxOooKeys ≥ at; the
    // others would be dropped, so they are never derived.
    if (d.ctr + 1 + c.maxOooKeys >= at) {
      const s = await step(d, provider, sync);
      d.prev.set(s.ctr, s.key);
    } else await stepNextOnly(d, provider, sync);
    if (--untilYield === 0) {
      untilYield = STEPS_PER_YIELD;
      await yieldToEventLoop();
    }
  }
  if (d.prev.size >= trimSize(c)) {
    const horizon = d.ctr - c.maxOooKeys;
    for (const k of [...d.prev.keys()]) if (k < horizon) d.prev.delete(k);
  }
  return (await step(d, provider, sync)).key;
}

/**
 * Chain steps `recvKey(c, epoch, at)` will take, with its refusals (trimmed, repeated, too far), checked
 * before any work. `epoch` may be `currentEpoch + 1` when the same message completes that epoch: its
 * link starts at counter 0.
 */
export function recvKeyCost(c: Chain, epoch: number, at: number): number {
  if (!Number.isSafeInteger(at) || at < 0 || at > U32_MAX)
    throw spqrError(SpqrErrorCode.KeyJump, 'key index out of range');
  let ctr = 0;
  let prev: ReadonlyMap<number, Uint8Array> = new Map();
  if (epoch !== c.currentEpoch + 1) {
    const d = (c.links[linkIndex(c, epoch)] as ChainLink).recv;
    ctr = d.ctr;
    prev = d.prev;
  }
  if (at < ctr) {
    if (at + c.maxOooKeys < ctr) throw spqrError(SpqrErrorCode.KeyTrimmed, 'key trimmed');
    if (!prev.has(at)) throw spqrError(SpqrErrorCode.KeyAlreadyRequested, 'key already requested');
    return 0;
  }
  if (at === ctr) throw spqrError(SpqrErrorCode.KeyAlreadyRequested, 'key already requested');
  if (at - ctr > c.maxJump) throw spqrError(SpqrErrorCode.KeyJump, 'key jump too large');
  return at - ctr;
}

export function trimSize(c: Chain): number {
  return Math.floor((c.maxOooKeys * 11) / 10) + 1;
}
