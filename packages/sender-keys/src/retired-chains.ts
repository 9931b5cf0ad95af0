/**
 * Retired-chain markers: the chains a receiver's record dropped (grace ended, pushed out by a sixth
 * chain, or their chain id taken by a new signing key), with the iteration the receiver had reached.
 * A distribution message of a marked chain at an earlier iteration is a replayed or long-delayed one
 * and is ignored: stored again, the messages the receiver already decrypted would decrypt a second
 * time. One at that iteration or later (the sender still uses the chain: SKDMs that arrived out of
 * order made the receiver retire it, and the app asked for a resend) is accepted again from there,
 * so nothing the receiver ever decrypted can decrypt again. libsignal keeps no such list; it lives in
 * record field 2, which libsignal's bytes never carry.
 *
 * ```
 * Record { 2: repeated Retired { 1: chain_id, 2: first 16 bytes of the signing key, 3: iteration } }
 * ```
 *
 * A marker holds a prefix of the key, not the key: with the chain id it names the chain (a new chain
 * matching both by chance is a 2⁻¹²⁸ event; only the sender itself could aim at one, against itself).
 */
import { copyBytes, DecodeError, ProtoReader, ProtoWriter, type PublicKey, WireType } from '@e2ee-kit/core';
import { MAX_RETIRED_CHAINS } from './constants.js';

/** Bytes of the signing key a marker keeps. */
const KEY_PRINT_LENGTH = 16;

/**
 * A chain this record retired: its chain id, the first 16 bytes of its signing key (u-coordinate),
 * and the state's iteration then (every message the receiver decrypted on it was below it).
 */
export interface RetiredChain {
  readonly chainId: number;
  readonly keyPrint: Uint8Array;
  readonly iteration: number;
}

interface ChainState {
  readonly chainId: number;
  readonly signingPublic: PublicKey;
  readonly iteration: number;
}

function names(r: RetiredChain, chainId: number, key: PublicKey): boolean {
  if (r.chainId !== chainId) return false;
  const u = key.rawView;
  let diff = 0;
  for (let i = 0; i < KEY_PRINT_LENGTH; i++) diff |= (r.keyPrint[i] as number) ^ (u[i] as number);
  return diff === 0;
}

export function findRetired(
  retired: readonly RetiredChain[],
  chainId: number,
  key: PublicKey,
): RetiredChain | undefined {
  return retired.find((r) => names(r, chainId, key));
}

/**
 * `retired` plus a marker for every state of `before` that `after` no longer has, newest last, the
 * oldest dropped beyond `MAX_RETIRED_CHAINS`. The same array when nothing was dropped.
 */
export function retireDropped(
  retired: readonly RetiredChain[],
  before: readonly ChainState[],
  after: readonly ChainState[],
): readonly RetiredChain[] {
  const dropped = before.filter(
    (s) => !after.some((t) => t.chainId === s.chainId && t.signingPublic.equals(s.signingPublic)),
  );
  if (dropped.length === 0) return retired;
  // A chain accepted back and then dropped again keeps one marker, the newest (its later iteration).
  const kept = retired.filter((r) => !dropped.some((s) => names(r, s.chainId, s.signingPublic)));
  const added = dropped.map((s) => ({
    chainId: s.chainId,
    keyPrint: copyBytes(s.signingPublic.rawView.subarray(0, KEY_PRINT_LENGTH)),
    iteration: s.iteration,
  }));
  return [...kept, ...added].slice(-MAX_RETIRED_CHAINS);
}

export function checkRetiredCount(retired: readonly RetiredChain[]): void {
  if (retired.length > MAX_RETIRED_CHAINS) throw new RangeError('too many retired chain markers');
}

/** Record field 2, one entry per marker. */
export function encodeRetired(w: ProtoWriter, retired: readonly RetiredChain[]): void {
  for (const r of retired) {
    const inner = new ProtoWriter();
    if (r.chainId !== 0) inner.uint32(1, r.chainId);
    inner.bytes(2, r.keyPrint);
    if (r.iteration !== 0) inner.uint32(3, r.iteration);
    w.bytes(2, inner.finish());
  }
}

/** One record field 2 entry; `count` is the number read so far (refused beyond the cap). */
export function decodeRetired(bytes: Uint8Array, count: number): RetiredChain {
  if (count >= MAX_RETIRED_CHAINS) throw new DecodeError('too many retired chain markers');
  const r = new ProtoReader(bytes);
  let chainId = 0;
  let keyPrint: Uint8Array | undefined;
  let iteration = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      chainId = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      keyPrint = r.bytes();
    } else if (h.field === 3) {
      r.expect(h, WireType.Varint);
      iteration = r.uint32();
    } else r.skip(h.wireType);
  }
  if (keyPrint?.length !== KEY_PRINT_LENGTH) throw new DecodeError('retired chain marker is malformed');
  return { chainId, keyPrint, iteration };
}
