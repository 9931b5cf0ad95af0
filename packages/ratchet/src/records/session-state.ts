/**
 * One session state (libsignal's `SessionStructure`) in memory, and its protobuf codec.
 *
 * Byte arrays held here are never modified in place: an update replaces the array. That makes
 * `clone()` cheap (arrays of chains and skipped keys are copied, the key bytes are shared), which is
 * how a decrypt computes a new state without touching the record the store returned.
 */
import { DecodeError, redact } from '@e2ee-kit/core';
import { MAX_MESSAGE_KEYS } from '../constants.js';
import { spqrStateBytes } from '../spqr/codec.js';
import { SpqrState, stateData } from '../spqr/state.js';
import { FastReader, FastWriter } from './fast-proto.js';

/** Skipped keys an SPQR-lite state can hold (spqr-lite.ts trims at 2,200, as the braid's `trimSize`). */
const SPQR_LITE_MAX_SKIPPED = Math.floor((MAX_MESSAGE_KEYS * 11) / 10) + 1;

export interface ChainKey {
  readonly index: number;
  readonly key: Uint8Array;
}

/** A skipped message key, stored as its 32-byte seed (`HMAC(CK, 0x01)`), as libsignal ≥ 0.67.2. */
export interface SkippedKey {
  readonly index: number;
  readonly seed: Uint8Array;
}

export interface ReceiverChain {
  /** Their ratchet public key, serialized (33 bytes). */
  readonly ratchetKey: Uint8Array;
  chainKey: ChainKey;
  /** Newest first; at most `MAX_MESSAGE_KEYS`. */
  messageKeys: SkippedKey[];
}

export interface SenderChain {
  readonly ratchetKey: Uint8Array;
  readonly ratchetPrivate: Uint8Array;
  chainKey: ChainKey;
}

export interface PendingPreKey {
  readonly preKeyId: number | undefined;
  readonly signedPreKeyId: number;
  readonly baseKey: Uint8Array;
  /** Seconds since 1970, as libsignal stores it. */
  readonly timestamp: number;
  readonly kyberPreKeyId: number | undefined;
  readonly kyberCiphertext: Uint8Array | undefined;
}

/** SPQR-lite (spec §5.5): the epoch-0 symmetric chain of each direction, nothing else. */
export interface SpqrLite {
  /** True for the initiator (direction A2B). */
  readonly a2b: boolean;
  sendCtr: number;
  sendNext: Uint8Array;
  recvCtr: number;
  recvNext: Uint8Array;
  /** Skipped receive keys: index → key. */
  recvPrev: Map<number, Uint8Array>;
}

/**
 * The placeholder of the byte fields until they are set: one shared empty array (arrays held here are
 * never modified in place, and an empty one has nothing to modify), not three new ones for every state
 * made — a state is made on every decode and clone, several times per message.
 */
const EMPTY = new Uint8Array(0);

export class SessionState {
  version = 0;
  localIdentity: Uint8Array = EMPTY;
  remoteIdentity: Uint8Array | undefined;
  rootKey: Uint8Array = EMPTY;
  previousCounter = 0;
  senderChain: SenderChain | undefined;
  /** Oldest first (index 0 is trimmed first), as libsignal. */
  receiverChains: ReceiverChain[] = [];
  pending: PendingPreKey | undefined;
  remoteRegistrationId = 0;
  localRegistrationId = 0;
  aliceBaseKey: Uint8Array = EMPTY;
  /** Legacy: SPQR-lite, kept by sessions made before record format 2 (they cannot be upgraded). */
  spqr: SpqrLite | undefined;
  /** The SPQR braid (record format 2, field 101): every PQXDH session made since. Immutable value. */
  braid: SpqrState | undefined;

  clone(): SessionState {
    const s = new SessionState();
    s.version = this.version;
    s.localIdentity = this.localIdentity;
    s.remoteIdentity = this.remoteIdentity;
    s.rootKey = this.rootKey;
    s.previousCounter = this.previousCounter;
    s.senderChain = this.senderChain && { ...this.senderChain };
    s.receiverChains = this.receiverChains.map((c) => ({
      ratchetKey: c.ratchetKey,
      chainKey: c.chainKey,
      messageKeys: c.messageKeys.slice(),
    }));
    s.pending = this.pending;
    s.remoteRegistrationId = this.remoteRegistrationId;
    s.localRegistrationId = this.localRegistrationId;
    s.aliceBaseKey = this.aliceBaseKey;
    s.spqr = this.spqr && { ...this.spqr, recvPrev: new Map(this.spqr.recvPrev) };
    s.braid = this.braid;
    return s;
  }

  /** For encrypt: only the sender chain and the SPQR send side change, so receiver chains are shared. */
  cloneForSending(): SessionState {
    const s = new SessionState();
    Object.assign(s, this);
    s.senderChain = this.senderChain && { ...this.senderChain };
    s.spqr = this.spqr && { ...this.spqr };
    return s;
  }

  encode(): Uint8Array {
    const w = new FastWriter(512);
    this.encodeInto(w);
    return w.finish();
  }

  /** libsignal's `SessionStructure` field numbers, fields in number order (as prost writes them). */
  encodeInto(w: FastWriter): void {
    w.uint(1, this.version);
    w.bytes(2, this.localIdentity);
    if (this.remoteIdentity) w.bytes(3, this.remoteIdentity);
    w.bytes(4, this.rootKey);
    if (this.previousCounter !== 0) w.uint(5, this.previousCounter);
    const sender = this.senderChain;
    if (sender) {
      w.nested(6, (n) => {
        n.bytes(1, sender.ratchetKey);
        n.bytes(2, sender.ratchetPrivate);
        n.nested(3, (c) => encodeChainKey(c, sender.chainKey));
      });
    }
    for (const c of this.receiverChains) w.nested(7, (n) => encodeReceiverChain(n, c));
    const p = this.pending;
    if (p) {
      w.nested(9, (n) => {
        if (p.preKeyId !== undefined) n.uint(1, p.preKeyId);
        n.bytes(2, p.baseKey);
        n.uint(3, p.signedPreKeyId);
        n.uint(4, p.timestamp);
      });
    }
    if (this.remoteRegistrationId !== 0) w.uint(10, this.remoteRegistrationId);
    if (this.localRegistrationId !== 0) w.uint(11, this.localRegistrationId);
    if (this.aliceBaseKey.length > 0) w.bytes(13, this.aliceBaseKey);
    if (p?.kyberPreKeyId !== undefined && p.kyberCiphertext) {
      const id = p.kyberPreKeyId;
      const ct = p.kyberCiphertext;
      w.nested(14, (n) => {
        n.uint(1, id);
        n.bytes(2, ct);
      });
    }
    const q = this.spqr;
    if (q) w.nested(100, (n) => encodeSpqr(n, q));
    if (this.braid) w.bytes(101, spqrStateBytes(this.braid));
  }

  /** Decodes a `SessionStructure`. Byte fields are views of `bytes`: callers pass bytes they own. */
  static decode(bytes: Uint8Array): SessionState {
    return SessionState.decodeFrom(new FastReader(bytes));
  }

  static decodeFrom(r: FastReader): SessionState {
    const s = new SessionState();
    let pendingPre: Omit<PendingPreKey, 'kyberPreKeyId' | 'kyberCiphertext'> | undefined;
    let pendingKyber: { id: number; ct: Uint8Array } | undefined;
    while (r.next()) {
      switch (r.field) {
        case 1:
          s.version = r.uint32();
          break;
        case 2:
          s.localIdentity = r.bytes();
          break;
        case 3:
          s.remoteIdentity = r.bytes();
          break;
        case 4:
          s.rootKey = r.bytes();
          break;
        case 5:
          s.previousCounter = r.uint32();
          break;
        case 6:
          s.senderChain = decodeSenderChain(r.sub());
          break;
        case 7:
          if (s.receiverChains.length >= 64)
            throw new DecodeError('session state has too many receiver chains');
          s.receiverChains.push(decodeReceiverChain(r.sub()));
          break;
        case 9:
          pendingPre = decodePendingPreKey(r.sub());
          break;
        case 10:
          s.remoteRegistrationId = r.uint32();
          break;
        case 11:
          s.localRegistrationId = r.uint32();
          break;
        case 13:
          s.aliceBaseKey = r.bytes();
          break;
        case 14:
          pendingKyber = decodePendingKyber(r.sub());
          break;
        case 100:
          s.spqr = decodeSpqr(r.sub());
          break;
        case 101:
          s.braid = SpqrState.deserialize(r.bytes());
          break;
        default:
          r.skip();
      }
    }
    if (pendingPre) {
      s.pending = { ...pendingPre, kyberPreKeyId: pendingKyber?.id, kyberCiphertext: pendingKyber?.ct };
    }
    validate(s);
    return s;
  }
}
// Root, chain, ratchet and SPQR keys: never printed.
redact(SessionState, '[SessionState]');

function validate(s: SessionState): void {
  const bad = (what: string) => new DecodeError(`session state has an invalid ${what}`);
  if (s.version !== 3 && s.version !== 4) throw bad('version');
  if (s.localIdentity.length !== 33) throw bad('local identity');
  if (s.remoteIdentity && s.remoteIdentity.length !== 33) throw bad('remote identity');
  if (s.rootKey.length !== 32) throw bad('root key');
  if (s.senderChain && (s.senderChain.ratchetKey.length !== 33 || s.senderChain.ratchetPrivate.length !== 32))
    throw bad('sender chain');
  for (const c of s.receiverChains) if (c.ratchetKey.length !== 33) throw bad('receiver chain');
  if (s.pending && s.pending.baseKey.length !== 33) throw bad('pending pre-key');
  if (s.version === 4 && !s.spqr === !s.braid) throw bad('SPQR state');
  if (s.version === 3 && (s.spqr || s.braid)) throw bad('SPQR state');
  // Sessions make their SPQR chains with libsignal's window (`initSpqr` defaults); a larger one in a
  // stored record would let the peer grow the record past its documented ceiling (README, Limits).
  if (s.braid && stateData(s.braid).chain.maxOooKeys > MAX_MESSAGE_KEYS) throw bad('SPQR state');
}

function encodeChainKey(w: FastWriter, ck: ChainKey): void {
  w.uint(1, ck.index);
  w.bytes(2, ck.key);
}

function decodeChainKey(r: FastReader): ChainKey {
  let index = 0;
  let key: Uint8Array | undefined;
  while (r.next()) {
    if (r.field === 1) index = r.uint32();
    else if (r.field === 2) key = r.bytes();
    else r.skip();
  }
  if (!key || key.length !== 32) throw new DecodeError('session chain key is invalid');
  return { index, key };
}

function encodeReceiverChain(w: FastWriter, c: ReceiverChain): void {
  w.bytes(1, c.ratchetKey);
  w.nested(3, (n) => encodeChainKey(n, c.chainKey));
  for (const m of c.messageKeys) {
    w.nested(4, (n) => {
      n.uint(1, m.index);
      n.bytes(5, m.seed);
    });
  }
}

function decodeReceiverChain(r: FastReader): ReceiverChain {
  let ratchetKey: Uint8Array | undefined;
  let chainKey: ChainKey | undefined;
  const messageKeys: SkippedKey[] = [];
  while (r.next()) {
    if (r.field === 1) ratchetKey = r.bytes();
    else if (r.field === 3) chainKey = decodeChainKey(r.sub());
    else if (r.field === 4) messageKeys.push(decodeMessageKey(r.sub()));
    else r.skip();
  }
  if (!ratchetKey || !chainKey) throw new DecodeError('session receiver chain is incomplete');
  return { ratchetKey, chainKey, messageKeys };
}

function decodeMessageKey(r: FastReader): SkippedKey {
  let index = 0;
  let seed: Uint8Array | undefined;
  while (r.next()) {
    if (r.field === 1) index = r.uint32();
    else if (r.field === 5) seed = r.bytes();
    else r.skip();
  }
  // Pre-0.67.2 libsignal records stored derived keys instead of seeds; we never wrote those.
  if (!seed || seed.length !== 32) throw new DecodeError('session message key has no seed');
  return { index, seed };
}

function decodeSenderChain(r: FastReader): SenderChain {
  let ratchetKey: Uint8Array | undefined;
  let ratchetPrivate: Uint8Array | undefined;
  let chainKey: ChainKey | undefined;
  while (r.next()) {
    if (r.field === 1) ratchetKey = r.bytes();
    else if (r.field === 2) ratchetPrivate = r.bytes();
    else if (r.field === 3) chainKey = decodeChainKey(r.sub());
    else r.skip();
  }
  if (!ratchetKey || !ratchetPrivate || !chainKey)
    throw new DecodeError('session sender chain is incomplete');
  return { ratchetKey, ratchetPrivate, chainKey };
}

function decodePendingPreKey(r: FastReader): Omit<PendingPreKey, 'kyberPreKeyId' | 'kyberCiphertext'> {
  let preKeyId: number | undefined;
  let signedPreKeyId = 0;
  let baseKey: Uint8Array | undefined;
  let timestamp = 0;
  while (r.next()) {
    if (r.field === 1) preKeyId = r.uint32();
    else if (r.field === 2) baseKey = r.bytes();
    else if (r.field === 3) signedPreKeyId = r.uint32();
    else if (r.field === 4) {
      timestamp = r.uint53();
      if (!Number.isSafeInteger(timestamp)) throw new DecodeError('pending pre-key timestamp out of range');
    } else r.skip();
  }
  if (!baseKey) throw new DecodeError('pending pre-key has no base key');
  return { preKeyId, signedPreKeyId, baseKey, timestamp };
}

function decodePendingKyber(r: FastReader): { id: number; ct: Uint8Array } {
  let id = 0;
  let ct: Uint8Array | undefined;
  while (r.next()) {
    if (r.field === 1) id = r.uint32();
    else if (r.field === 2) ct = r.bytes();
    else r.skip();
  }
  if (!ct) throw new DecodeError('pending Kyber pre-key has no ciphertext');
  return { id, ct };
}

/** SPQR-lite state: `{1: a2b, 2: send ctr, 3: send next, 4: recv ctr, 5: recv next, 6: skipped (BE32 index ‖ key)*}`. */
function encodeSpqr(w: FastWriter, q: SpqrLite): void {
  w.uint(1, q.a2b ? 1 : 0);
  w.uint(2, q.sendCtr);
  w.bytes(3, q.sendNext);
  w.uint(4, q.recvCtr);
  w.bytes(5, q.recvNext);
  if (q.recvPrev.size === 0) return;
  const prev = new Uint8Array(q.recvPrev.size * 36);
  let o = 0;
  for (const [index, key] of q.recvPrev) {
    prev[o] = index >>> 24;
    prev[o + 1] = (index >>> 16) & 0xff;
    prev[o + 2] = (index >>> 8) & 0xff;
    prev[o + 3] = index & 0xff;
    prev.set(key, o + 4);
    o += 36;
  }
  w.bytes(6, prev);
}

function decodeSpqr(r: FastReader): SpqrLite {
  let a2b = false;
  let sendCtr = 0;
  let recvCtr = 0;
  let sendNext: Uint8Array | undefined;
  let recvNext: Uint8Array | undefined;
  let prev: Uint8Array = new Uint8Array(0);
  while (r.next()) {
    switch (r.field) {
      case 1:
        a2b = r.bool();
        break;
      case 2:
        sendCtr = r.uint32();
        break;
      case 3:
        sendNext = r.bytes();
        break;
      case 4:
        recvCtr = r.uint32();
        break;
      case 5:
        recvNext = r.bytes();
        break;
      case 6:
        prev = r.bytes();
        break;
      default:
        r.skip();
    }
  }
  // At most what `spqrRecv` keeps (it trims past 2,200 keys), as the braid's codec checks its chains.
  if (
    !sendNext ||
    sendNext.length !== 32 ||
    !recvNext ||
    recvNext.length !== 32 ||
    prev.length % 36 !== 0 ||
    prev.length / 36 > SPQR_LITE_MAX_SKIPPED
  ) {
    throw new DecodeError('session SPQR state is invalid');
  }
  const recvPrev = new Map<number, Uint8Array>();
  for (let o = 0; o < prev.length; o += 36) {
    const index =
      (((prev[o] as number) << 24) |
        ((prev[o + 1] as number) << 16) |
        ((prev[o + 2] as number) << 8) |
        (prev[o + 3] as number)) >>>
      0;
    // Only keys behind the counter are ever kept, each once.
    if (index >= recvCtr || recvPrev.has(index)) throw new DecodeError('session SPQR state is invalid');
    recvPrev.set(index, prev.subarray(o + 4, o + 36));
  }
  return { a2b, sendCtr, sendNext, recvCtr, recvNext, recvPrev };
}
