/**
 * One session state (libsignal's `SessionStructure`) in memory, and its protobuf codec.
 *
 * Byte arrays held here are never modified in place: an update replaces the array. That makes
 * `clone()` cheap (arrays of chains and skipped keys are copied, the key bytes are shared), which is
 * how a decrypt computes a new state without touching the record the store returned.
 */
import { DecodeError, ProtoReader, ProtoWriter, WireType } from '@e2ee-kit/core';

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

export class SessionState {
  version = 0;
  localIdentity: Uint8Array = new Uint8Array(0);
  remoteIdentity: Uint8Array | undefined;
  rootKey: Uint8Array = new Uint8Array(0);
  previousCounter = 0;
  senderChain: SenderChain | undefined;
  /** Oldest first (index 0 is trimmed first), as libsignal. */
  receiverChains: ReceiverChain[] = [];
  pending: PendingPreKey | undefined;
  remoteRegistrationId = 0;
  localRegistrationId = 0;
  aliceBaseKey: Uint8Array = new Uint8Array(0);
  spqr: SpqrLite | undefined;

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
    const w = new ProtoWriter().uint32(1, this.version).bytes(2, this.localIdentity);
    if (this.remoteIdentity) w.bytes(3, this.remoteIdentity);
    w.bytes(4, this.rootKey);
    if (this.previousCounter !== 0) w.uint32(5, this.previousCounter);
    if (this.senderChain) {
      const c = this.senderChain;
      w.bytes(
        6,
        new ProtoWriter()
          .bytes(1, c.ratchetKey)
          .bytes(2, c.ratchetPrivate)
          .bytes(3, encodeChainKey(c.chainKey))
          .finish(),
      );
    }
    for (const c of this.receiverChains) w.bytes(7, encodeReceiverChain(c));
    if (this.pending) {
      const p = this.pending;
      const pw = new ProtoWriter();
      if (p.preKeyId !== undefined) pw.uint32(1, p.preKeyId);
      pw.bytes(2, p.baseKey).uint32(3, p.signedPreKeyId).uint64(4, p.timestamp);
      w.bytes(9, pw.finish());
    }
    if (this.remoteRegistrationId !== 0) w.uint32(10, this.remoteRegistrationId);
    if (this.localRegistrationId !== 0) w.uint32(11, this.localRegistrationId);
    if (this.aliceBaseKey.length > 0) w.bytes(13, this.aliceBaseKey);
    if (this.pending?.kyberPreKeyId !== undefined && this.pending.kyberCiphertext) {
      w.bytes(
        14,
        new ProtoWriter()
          .uint32(1, this.pending.kyberPreKeyId)
          .bytes(2, this.pending.kyberCiphertext)
          .finish(),
      );
    }
    if (this.spqr) w.bytes(100, encodeSpqr(this.spqr));
    return w.finish();
  }

  static decode(bytes: Uint8Array): SessionState {
    const s = new SessionState();
    const r = new ProtoReader(bytes);
    let pendingPre: Omit<PendingPreKey, 'kyberPreKeyId' | 'kyberCiphertext'> | undefined;
    let pendingKyber: { id: number; ct: Uint8Array } | undefined;
    for (let h = r.next(); h; h = r.next()) {
      switch (h.field) {
        case 1:
          r.expect(h, WireType.Varint);
          s.version = r.uint32();
          break;
        case 2:
          r.expect(h, WireType.LengthDelimited);
          s.localIdentity = r.bytes();
          break;
        case 3:
          r.expect(h, WireType.LengthDelimited);
          s.remoteIdentity = r.bytes();
          break;
        case 4:
          r.expect(h, WireType.LengthDelimited);
          s.rootKey = r.bytes();
          break;
        case 5:
          r.expect(h, WireType.Varint);
          s.previousCounter = r.uint32();
          break;
        case 6:
          r.expect(h, WireType.LengthDelimited);
          s.senderChain = decodeSenderChain(r.bytes());
          break;
        case 7:
          r.expect(h, WireType.LengthDelimited);
          s.receiverChains.push(decodeReceiverChain(r.bytes()));
          break;
        case 9:
          r.expect(h, WireType.LengthDelimited);
          pendingPre = decodePendingPreKey(r.bytes());
          break;
        case 10:
          r.expect(h, WireType.Varint);
          s.remoteRegistrationId = r.uint32();
          break;
        case 11:
          r.expect(h, WireType.Varint);
          s.localRegistrationId = r.uint32();
          break;
        case 13:
          r.expect(h, WireType.LengthDelimited);
          s.aliceBaseKey = r.bytes();
          break;
        case 14:
          r.expect(h, WireType.LengthDelimited);
          pendingKyber = decodePendingKyber(r.bytes());
          break;
        case 100:
          r.expect(h, WireType.LengthDelimited);
          s.spqr = decodeSpqr(r.bytes());
          break;
        default:
          r.skip(h.wireType);
      }
    }
    if (pendingPre) {
      s.pending = { ...pendingPre, kyberPreKeyId: pendingKyber?.id, kyberCiphertext: pendingKyber?.ct };
    }
    validate(s);
    return s;
  }
}

function validate(s: SessionState): void {
  const bad = (what: string) => new DecodeError(`session state has an invalid ${what}`);
  if (s.version !== 3 && s.version !== 4) throw bad('version');
  if (s.localIdentity.length !== 33) throw bad('local identity');
  if (s.remoteIdentity && s.remoteIdentity.length !== 33) throw bad('remote identity');
  if (s.rootKey.length !== 32) throw bad('root key');
  if (s.senderChain && (s.senderChain.ratchetKey.length !== 33 || s.senderChain.ratchetPrivate.length !== 32))
    throw bad('sender chain');
  if (s.receiverChains.length > 64) throw bad('receiver chain count');
  for (const c of s.receiverChains) if (c.ratchetKey.length !== 33) throw bad('receiver chain');
  if (s.pending && s.pending.baseKey.length !== 33) throw bad('pending pre-key');
  if (s.version === 4 && !s.spqr) throw bad('SPQR state');
}

function encodeChainKey(ck: ChainKey): Uint8Array {
  return new ProtoWriter().uint32(1, ck.index).bytes(2, ck.key).finish();
}

function decodeChainKey(bytes: Uint8Array): ChainKey {
  const r = new ProtoReader(bytes);
  let index = 0;
  let key: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      index = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      key = r.bytes();
    } else r.skip(h.wireType);
  }
  if (!key || key.length !== 32) throw new DecodeError('session chain key is invalid');
  return { index, key };
}

function encodeReceiverChain(c: ReceiverChain): Uint8Array {
  const w = new ProtoWriter().bytes(1, c.ratchetKey).bytes(3, encodeChainKey(c.chainKey));
  for (const m of c.messageKeys) w.bytes(4, new ProtoWriter().uint32(1, m.index).bytes(5, m.seed).finish());
  return w.finish();
}

function decodeReceiverChain(bytes: Uint8Array): ReceiverChain {
  const r = new ProtoReader(bytes);
  let ratchetKey: Uint8Array | undefined;
  let chainKey: ChainKey | undefined;
  const messageKeys: SkippedKey[] = [];
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      ratchetKey = r.bytes();
    } else if (h.field === 3) {
      r.expect(h, WireType.LengthDelimited);
      chainKey = decodeChainKey(r.bytes());
    } else if (h.field === 4) {
      r.expect(h, WireType.LengthDelimited);
      messageKeys.push(decodeMessageKey(r.bytes()));
    } else r.skip(h.wireType);
  }
  if (!ratchetKey || !chainKey) throw new DecodeError('session receiver chain is incomplete');
  return { ratchetKey, chainKey, messageKeys };
}

function decodeMessageKey(bytes: Uint8Array): SkippedKey {
  const r = new ProtoReader(bytes);
  let index = 0;
  let seed: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      index = r.uint32();
    } else if (h.field === 5) {
      r.expect(h, WireType.LengthDelimited);
      seed = r.bytes();
    } else r.skip(h.wireType);
  }
  // Pre-0.67.2 libsignal records stored derived keys instead of seeds; we never wrote those.
  if (!seed || seed.length !== 32) throw new DecodeError('session message key has no seed');
  return { index, seed };
}

function decodeSenderChain(bytes: Uint8Array): SenderChain {
  const r = new ProtoReader(bytes);
  let ratchetKey: Uint8Array | undefined;
  let ratchetPrivate: Uint8Array | undefined;
  let chainKey: ChainKey | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      ratchetKey = r.bytes();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      ratchetPrivate = r.bytes();
    } else if (h.field === 3) {
      r.expect(h, WireType.LengthDelimited);
      chainKey = decodeChainKey(r.bytes());
    } else r.skip(h.wireType);
  }
  if (!ratchetKey || !ratchetPrivate || !chainKey)
    throw new DecodeError('session sender chain is incomplete');
  return { ratchetKey, ratchetPrivate, chainKey };
}

function decodePendingPreKey(bytes: Uint8Array): Omit<PendingPreKey, 'kyberPreKeyId' | 'kyberCiphertext'> {
  const r = new ProtoReader(bytes);
  let preKeyId: number | undefined;
  let signedPreKeyId = 0;
  let baseKey: Uint8Array | undefined;
  let timestamp = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      preKeyId = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      baseKey = r.bytes();
    } else if (h.field === 3) {
      r.expect(h, WireType.Varint);
      signedPreKeyId = r.uint32();
    } else if (h.field === 4) {
      r.expect(h, WireType.Varint);
      const t = r.uint64();
      if (t > BigInt(Number.MAX_SAFE_INTEGER))
        throw new DecodeError('pending pre-key timestamp out of range');
      timestamp = Number(t);
    } else r.skip(h.wireType);
  }
  if (!baseKey) throw new DecodeError('pending pre-key has no base key');
  return { preKeyId, signedPreKeyId, baseKey, timestamp };
}

function decodePendingKyber(bytes: Uint8Array): { id: number; ct: Uint8Array } {
  const r = new ProtoReader(bytes);
  let id = 0;
  let ct: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      id = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      ct = r.bytes();
    } else r.skip(h.wireType);
  }
  if (!ct) throw new DecodeError('pending Kyber pre-key has no ciphertext');
  return { id, ct };
}

/** SPQR-lite state: `{1: a2b, 2: send ctr, 3: send next, 4: recv ctr, 5: recv next, 6: skipped (BE32 index ‖ key)*}`. */
function encodeSpqr(q: SpqrLite): Uint8Array {
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
  const w = new ProtoWriter()
    .bool(1, q.a2b)
    .uint32(2, q.sendCtr)
    .bytes(3, q.sendNext)
    .uint32(4, q.recvCtr)
    .bytes(5, q.recvNext);
  if (prev.length > 0) w.bytes(6, prev);
  return w.finish();
}

function decodeSpqr(bytes: Uint8Array): SpqrLite {
  const r = new ProtoReader(bytes);
  let a2b = false;
  let sendCtr = 0;
  let recvCtr = 0;
  let sendNext: Uint8Array | undefined;
  let recvNext: Uint8Array | undefined;
  let prev: Uint8Array = new Uint8Array(0);
  for (let h = r.next(); h; h = r.next()) {
    switch (h.field) {
      case 1:
        r.expect(h, WireType.Varint);
        a2b = r.bool();
        break;
      case 2:
        r.expect(h, WireType.Varint);
        sendCtr = r.uint32();
        break;
      case 3:
        r.expect(h, WireType.LengthDelimited);
        sendNext = r.bytes();
        break;
      case 4:
        r.expect(h, WireType.Varint);
        recvCtr = r.uint32();
        break;
      case 5:
        r.expect(h, WireType.LengthDelimited);
        recvNext = r.bytes();
        break;
      case 6:
        r.expect(h, WireType.LengthDelimited);
        prev = r.bytes();
        break;
      default:
        r.skip(h.wireType);
    }
  }
  if (!sendNext || sendNext.length !== 32 || !recvNext || recvNext.length !== 32 || prev.length % 36 !== 0) {
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
    recvPrev.set(index, prev.slice(o + 4, o + 36));
  }
  return { a2b, sendCtr, sendNext, recvCtr, recvNext, recvPrev };
}
