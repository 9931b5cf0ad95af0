/**
 * The ML-KEM Braid state machine (spec `spqr.md` §2; signal.org "ML-KEM Braid"): per epoch one side
 * sends a fresh ML-KEM-768 key (header, then the ek vector), the other answers with ct1 and ct2, each
 * object erasure-coded one 32-byte chunk per message. Both sides derive the epoch secret; then roles
 * swap. States are immutable values: every transition returns a new one.
 */
import type { CryptoProvider } from '@e2ee-kit/core';
import {
  type Authenticator,
  authUpdate,
  epochSecret,
  MAC_LENGTH,
  macCiphertext,
  macEqual,
  macHeader,
} from './authenticator.js';
import { type Chunk, ChunkDecoder, ChunkEncoder } from './erasure.js';
import { SpqrErrorCode, spqrError } from './errors.js';
import { PayloadType } from './message.js';
import {
  type BraidKeys,
  CT1_LENGTH,
  CT2_LENGTH,
  decaps,
  EK_VECTOR_LENGTH,
  ekMatchesHeader,
  encaps1,
  encaps2Checked,
  HEADER_LENGTH,
} from './mlkem768.js';

/** State tags, numbered in the order of libsignal's `V1State` oneof (fields 1–11). */
export const BraidTag = {
  KeysUnsampled: 1,
  KeysSampled: 2,
  HeaderSent: 3,
  Ct1Received: 4,
  EkSentCt1Received: 5,
  NoHeaderReceived: 6,
  HeaderReceived: 7,
  Ct1Sampled: 8,
  EkReceivedCt1Sampled: 9,
  Ct1Acknowledged: 10,
  Ct2Sampled: 11,
} as const;
export type BraidTag = (typeof BraidTag)[keyof typeof BraidTag];

interface Common {
  readonly epoch: number;
  readonly auth: Authenticator;
}
type T = typeof BraidTag;
export type Braid =
  | (Common & { readonly tag: T['KeysUnsampled'] })
  | (Common & { readonly tag: T['KeysSampled']; readonly keys: BraidKeys; readonly hdrEnc: ChunkEncoder })
  | (Common & {
      readonly tag: T['HeaderSent'];
      readonly keys: BraidKeys;
      readonly ekEnc: ChunkEncoder;
      readonly ct1Dec: ChunkDecoder;
    })
  | (Common & {
      readonly tag: T['Ct1Received'];
      readonly keys: BraidKeys;
      readonly ct1: Uint8Array;
      readonly ekEnc: ChunkEncoder;
    })
  | (Common & {
      readonly tag: T['EkSentCt1Received'];
      readonly keys: BraidKeys;
      readonly ct1: Uint8Array;
      readonly ct2Dec: ChunkDecoder;
    })
  | (Common & { readonly tag: T['NoHeaderReceived']; readonly hdrDec: ChunkDecoder })
  | (Common & { readonly tag: T['HeaderReceived']; readonly hdr: Uint8Array })
  | (Common & {
      readonly tag: T['Ct1Sampled'];
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly ct1: Uint8Array;
      readonly ct1Enc: ChunkEncoder;
      readonly ekDec: ChunkDecoder;
    })
  | (Common & {
      readonly tag: T['EkReceivedCt1Sampled'];
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly ek: Uint8Array;
      readonly ct1: Uint8Array;
      readonly ct1Enc: ChunkEncoder;
    })
  | (Common & {
      readonly tag: T['Ct1Acknowledged'];
      readonly hdr: Uint8Array;
      readonly m: Uint8Array;
      readonly ct1: Uint8Array;
      readonly ekDec: ChunkDecoder;
    })
  | (Common & { readonly tag: T['Ct2Sampled']; readonly ct2Enc: ChunkEncoder });

/** Where fresh key material comes from (tests replaying a capture inject libsignal's). */
export interface BraidEntropy {
  /** A fresh ML-KEM-768 key pair for a new epoch. */
  keys(): BraidKeys;
  /** The 32-byte Encaps1 randomness m. */
  encapsSeed(): Uint8Array;
}

/** A braid message before framing (the chain index is added by the caller). */
export interface BraidMessage {
  readonly epoch: number;
  readonly type: PayloadType;
  readonly chunk?: Chunk;
}

export interface EpochSecret {
  readonly epoch: number;
  readonly secret: Uint8Array;
}

export const HDR_OBJECT_LENGTH = HEADER_LENGTH + MAC_LENGTH;
export const CT2_OBJECT_LENGTH = CT2_LENGTH + MAC_LENGTH;

export function initialBraid(a2b: boolean, auth: Authenticator): Braid {
  return a2b
    ? { tag: BraidTag.KeysUnsampled, epoch: 1, auth }
    : { tag: BraidTag.NoHeaderReceived, epoch: 1, auth, hdrDec: new ChunkDecoder(HDR_OBJECT_LENGTH) };
}

/** True while this side sends keys (odd epochs for the initiator). */
export function isKeySide(b: Braid): boolean {
  return b.tag <= BraidTag.EkSentCt1Received;
}

export async function braidSend(
  b: Braid,
  provider: CryptoProvider,
  entropy: BraidEntropy,
): Promise<{ braid: Braid; msg: BraidMessage; secret?: EpochSecret }> {
  const { epoch, auth } = b;
  const none = (braid: Braid) => ({ braid, msg: { epoch, type: PayloadType.None } });
  switch (b.tag) {
    case BraidTag.KeysUnsampled: {
      const keys = entropy.keys();
      const mac = await macHeader(auth, epoch, keys.hdr, provider);
      const hdrObject = new Uint8Array(HDR_OBJECT_LENGTH);
      hdrObject.set(keys.hdr);
      hdrObject.set(mac, HEADER_LENGTH);
      const { encoder, chunk } = new ChunkEncoder(hdrObject).advance();
      return {
        braid: { tag: BraidTag.KeysSampled, epoch, auth, keys, hdrEnc: encoder },
        msg: { epoch, type: PayloadType.Hdr, chunk },
      };
    }
    case BraidTag.KeysSampled: {
      const { encoder, chunk } = b.hdrEnc.advance();
      return { braid: { ...b, hdrEnc: encoder }, msg: { epoch, type: PayloadType.Hdr, chunk } };
    }
    case BraidTag.HeaderSent: {
      const { encoder, chunk } = b.ekEnc.advance();
      return { braid: { ...b, ekEnc: encoder }, msg: { epoch, type: PayloadType.Ek, chunk } };
    }
    case BraidTag.Ct1Received: {
      const { encoder, chunk } = b.ekEnc.advance();
      return { braid: { ...b, ekEnc: encoder }, msg: { epoch, type: PayloadType.EkCt1Ack, chunk } };
    }
    case BraidTag.EkSentCt1Received:
      return { braid: b, msg: { epoch, type: PayloadType.Ct1Ack } };
    case BraidTag.NoHeaderReceived:
    case BraidTag.Ct1Acknowledged:
      return none(b);
    case BraidTag.HeaderReceived: {
      const m = entropy.encapsSeed();
      if (m.length !== 32) throw new RangeError('encapsulation seed must be 32 bytes');
      const { ct1, sharedSecret } = encaps1(b.hdr, m);
      const secret = await epochSecret(sharedSecret, epoch, provider);
      sharedSecret.fill(0);
      const auth2 = await authUpdate(auth, epoch, secret, provider);
      const { encoder, chunk } = new ChunkEncoder(ct1).advance();
      return {
        braid: {
          tag: BraidTag.Ct1Sampled,
          epoch,
          auth: auth2,
          hdr: b.hdr,
          m: m.slice(),
          ct1,
          ct1Enc: encoder,
          ekDec: new ChunkDecoder(EK_VECTOR_LENGTH),
        },
        msg: { epoch, type: PayloadType.Ct1, chunk },
        secret: { epoch, secret },
      };
    }
    case BraidTag.Ct1Sampled:
    case BraidTag.EkReceivedCt1Sampled: {
      const { encoder, chunk } = b.ct1Enc.advance();
      return { braid: { ...b, ct1Enc: encoder }, msg: { epoch, type: PayloadType.Ct1, chunk } };
    }
    case BraidTag.Ct2Sampled: {
      const { encoder, chunk } = b.ct2Enc.advance();
      return { braid: { ...b, ct2Enc: encoder }, msg: { epoch, type: PayloadType.Ct2, chunk } };
    }
  }
}

async function toCt2Sampled(
  b: Common & { readonly hdr: Uint8Array; readonly m: Uint8Array; readonly ct1: Uint8Array },
  ek: Uint8Array,
  provider: CryptoProvider,
): Promise<Braid> {
  // ek passed `ekMatchesHeader` against b.hdr: `decodedEk` checked it on arrival, the codec on load.
  const ct2 = encaps2Checked(b.hdr, ek, b.m);
  const mac = await macCiphertext(b.auth, b.epoch, b.ct1, ct2, provider);
  const object = new Uint8Array(CT2_OBJECT_LENGTH);
  object.set(ct2);
  object.set(mac, CT2_LENGTH);
  return { tag: BraidTag.Ct2Sampled, epoch: b.epoch, auth: b.auth, ct2Enc: new ChunkEncoder(object) };
}

function decodedEk(dec: ChunkDecoder, hdr: Uint8Array): Uint8Array | undefined {
  const ek = dec.decoded();
  if (ek && !ekMatchesHeader(ek, hdr))
    throw spqrError(SpqrErrorCode.ErroneousData, 'encapsulation key does not match its header');
  return ek;
}

/**
 * Applies a received message to the braid. Lower epochs change nothing; higher epochs are refused with
 * `SPQR_EPOCH_OUT_OF_RANGE` (except Ct2Sampled(e) seeing e + 1, the role swap).
 */
export async function braidRecv(
  b: Braid,
  msg: BraidMessage,
  provider: CryptoProvider,
): Promise<{ braid: Braid; secret?: EpochSecret }> {
  if (msg.epoch > b.epoch) {
    if (b.tag === BraidTag.Ct2Sampled && msg.epoch === b.epoch + 1)
      return { braid: { tag: BraidTag.KeysUnsampled, epoch: msg.epoch, auth: b.auth } };
    throw spqrError(SpqrErrorCode.EpochOutOfRange, 'epoch not in valid range');
  }
  if (msg.epoch < b.epoch) return { braid: b };
  const { type, chunk } = msg;
  const same = { braid: b };
  switch (b.tag) {
    case BraidTag.KeysUnsampled:
    case BraidTag.HeaderReceived:
    case BraidTag.Ct2Sampled:
      return same;
    case BraidTag.KeysSampled: {
      if (type !== PayloadType.Ct1 || !chunk) return same;
      const ct1Dec = new ChunkDecoder(CT1_LENGTH).withChunk(chunk);
      const ekEnc = new ChunkEncoder(b.keys.ek);
      return {
        braid: { tag: BraidTag.HeaderSent, epoch: b.epoch, auth: b.auth, keys: b.keys, ekEnc, ct1Dec },
      };
    }
    case BraidTag.HeaderSent: {
      if (type !== PayloadType.Ct1 || !chunk) return same;
      const ct1Dec = b.ct1Dec.withChunk(chunk);
      const ct1 = ct1Dec.decoded();
      if (!ct1) return { braid: { ...b, ct1Dec } };
      return {
        braid: { tag: BraidTag.Ct1Received, epoch: b.epoch, auth: b.auth, keys: b.keys, ct1, ekEnc: b.ekEnc },
      };
    }
    case BraidTag.Ct1Received: {
      if (type !== PayloadType.Ct2 || !chunk) return same;
      const ct2Dec = new ChunkDecoder(CT2_OBJECT_LENGTH).withChunk(chunk);
      // ct2 ‖ MAC needs 5 chunks, so the first one never completes it (libsignal does not check either).
      return {
        braid: {
          tag: BraidTag.EkSentCt1Received,
          epoch: b.epoch,
          auth: b.auth,
          keys: b.keys,
          ct1: b.ct1,
          ct2Dec,
        },
      };
    }
    case BraidTag.EkSentCt1Received: {
      if (type !== PayloadType.Ct2 || !chunk) return same;
      const ct2Dec = b.ct2Dec.withChunk(chunk);
      const object = ct2Dec.decoded();
      if (!object) return { braid: { ...b, ct2Dec } };
      const ct2 = object.slice(0, CT2_LENGTH);
      const mac = object.slice(CT2_LENGTH);
      const shared = decaps(b.keys.dk, b.ct1, ct2);
      const secret = await epochSecret(shared, b.epoch, provider);
      shared.fill(0);
      const auth = await authUpdate(b.auth, b.epoch, secret, provider);
      const expected = await macCiphertext(auth, b.epoch, b.ct1, ct2, provider);
      if (!macEqual(expected, mac))
        throw spqrError(SpqrErrorCode.MacVerifyFailed, 'ciphertext MAC is invalid');
      return {
        braid: {
          tag: BraidTag.NoHeaderReceived,
          epoch: b.epoch + 1,
          auth,
          hdrDec: new ChunkDecoder(HDR_OBJECT_LENGTH),
        },
        secret: { epoch: b.epoch, secret },
      };
    }
    case BraidTag.NoHeaderReceived: {
      if (type !== PayloadType.Hdr || !chunk) return same;
      const hdrDec = b.hdrDec.withChunk(chunk);
      const object = hdrDec.decoded();
      if (!object) return { braid: { ...b, hdrDec } };
      const hdr = object.slice(0, HEADER_LENGTH);
      const expected = await macHeader(b.auth, b.epoch, hdr, provider);
      if (!macEqual(expected, object.subarray(HEADER_LENGTH)))
        throw spqrError(SpqrErrorCode.MacVerifyFailed, 'header MAC is invalid');
      return { braid: { tag: BraidTag.HeaderReceived, epoch: b.epoch, auth: b.auth, hdr } };
    }
    case BraidTag.Ct1Sampled: {
      const ack = type === PayloadType.EkCt1Ack;
      if ((type !== PayloadType.Ek && !ack) || !chunk) return same;
      const ekDec = b.ekDec.withChunk(chunk);
      const ek = decodedEk(ekDec, b.hdr);
      const common = { epoch: b.epoch, auth: b.auth, hdr: b.hdr, m: b.m, ct1: b.ct1 };
      if (ek) {
        if (ack) return { braid: await toCt2Sampled(common, ek, provider) };
        return { braid: { tag: BraidTag.EkReceivedCt1Sampled, ...common, ek, ct1Enc: b.ct1Enc } };
      }
      if (ack) return { braid: { tag: BraidTag.Ct1Acknowledged, ...common, ekDec } };
      return { braid: { ...b, ekDec } };
    }
    case BraidTag.EkReceivedCt1Sampled:
      if (type !== PayloadType.Ct1Ack && type !== PayloadType.EkCt1Ack) return same;
      return { braid: await toCt2Sampled(b, b.ek, provider) };
    case BraidTag.Ct1Acknowledged: {
      if ((type !== PayloadType.Ek && type !== PayloadType.EkCt1Ack) || !chunk) return same;
      const ekDec = b.ekDec.withChunk(chunk);
      const ek = decodedEk(ekDec, b.hdr);
      if (!ek) return { braid: { ...b, ekDec } };
      return { braid: await toCt2Sampled(b, ek, provider) };
    }
  }
}
