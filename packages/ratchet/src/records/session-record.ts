import { DecodeError, SecretBytes } from '@e2ee-kit/core';
import { ARCHIVED_STATES_MAX_LENGTH, MAX_UNACKNOWLEDGED_SESSION_AGE_MS } from '../constants.js';
import { spqrStateBytes } from '../spqr/codec.js';
import { ARCHIVED_STATES_MAX_BYTES, capArchive } from './archive-caps.js';
import { brandRecord, RecordTag, unwrapRecord } from './container.js';
import { FastReader, FastWriter } from './fast-proto.js';
import { SessionState } from './session-state.js';

/** Format written; every older one is still read (test/fixtures/format-v*.json). */
const FORMAT_VERSION = 2;
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * All session states with one peer device: the current one and up to 40 archived ones (newest first).
 *
 * Format v1: tag 0x01, version 1, then libsignal's `RecordStructure`
 * `{ 1: current SessionStructure, 2: previous SessionStructure bytes (repeated, newest first) }` with
 * libsignal's `SessionStructure` field numbers (spec §4.5) plus our field 100 (SPQR-lite state) in
 * place of libsignal's full SPQR state (field 15, never written).
 *
 * Format v2: the same, and a version-4 state holds either field 100 (SPQR-lite, sessions made before
 * v2) or field 101 (`SpqrState.serialize()`, the braid, with its own format version). v2 is written
 * whatever the states hold, so a reader that would drop field 101 refuses the record instead.
 */
export class SessionRecord {
  #current: SessionState | undefined;
  /** Encoded archived states, newest first (decoded only when a message needs them). */
  #previous: readonly Uint8Array[];

  constructor() {
    this.#current = undefined;
    this.#previous = [];
  }

  /** @internal */
  static fromParts(current: SessionState | undefined, previous: readonly Uint8Array[]): SessionRecord {
    const r = new SessionRecord();
    r.#current = current;
    r.#previous = previous;
    return r;
  }

  /** @internal The current state (not copied: clone before changing it). */
  get currentState(): SessionState | undefined {
    return this.#current;
  }

  /** @internal Encoded archived states, newest first (not copied). */
  get previousStates(): readonly Uint8Array[] {
    return this.#previous;
  }

  /** Version of the current session (3 = X3DH, 4 = PQXDH), or `undefined` if there is none. */
  get sessionVersion(): number | undefined {
    return this.#current?.version;
  }

  /** The peer's registration id in the current session, or `undefined`. */
  get remoteRegistrationId(): number | undefined {
    return this.#current?.remoteRegistrationId;
  }

  get localRegistrationId(): number | undefined {
    return this.#current?.localRegistrationId;
  }

  /** Number of archived states. */
  get archivedStateCount(): number {
    return this.#previous.length;
  }

  /**
   * True if the current session can send: it has a sender chain and, if never answered, is younger than
   * 30 days (libsignal's `hasCurrentState` minus its PQXDH-only rule, since we also keep X3DH sessions),
   * and its sending chain has a counter left (a chain at 2^32 − 1, only ever seen in an edited record,
   * cannot number another message).
   */
  hasCurrentState(now: number = Date.now()): boolean {
    const s = this.#current;
    if (!s?.senderChain || s.senderChain.chainKey.index >= 0xffff_ffff) return false;
    if (s.pending && s.pending.timestamp * 1000 + MAX_UNACKNOWLEDGED_SESSION_AGE_MS < now) return false;
    return true;
  }

  /** Moves the current session to the archive (the next message from the peer must be a PreKey one). */
  archiveCurrentState(): void {
    const s = this.#current;
    if (!s) return;
    this.#current = undefined;
    this.#previous = archive(this.#previous, s);
  }

  serialize(): Uint8Array {
    let size = 64;
    for (const p of this.#previous) size += p.length + 4;
    const current = this.#current;
    // The SPQR state's own encoding first (kept with the state), so that its writer gets the shared
    // scratch buffer rather than a fresh one; the record's writer then copies it in.
    if (current?.braid) spqrStateBytes(current.braid);
    const w = new FastWriter(size + 1024);
    if (current) w.nested(1, (n) => current.encodeInto(n));
    for (const p of this.#previous) w.bytes(2, p);
    return w.finish(Uint8Array.of(RecordTag.Session, FORMAT_VERSION));
  }

  static deserialize(bytes: Uint8Array): SessionRecord {
    unwrapRecord(bytes, RecordTag.Session, 'SessionRecord', FORMAT_VERSION);
    // One copy of the input; the decoded state and the archived states are views of it (secret bytes:
    // they print as `[secret N bytes]`).
    const own = SecretBytes.copyOf(bytes);
    const r = new FastReader(own, 2);
    let current: SessionState | undefined;
    const previous: Uint8Array[] = [];
    let archived = 0;
    // The archive's byte cap, as `capArchive` applies it (newest first; from the first state that does
    // not fit, the older ones are dropped): this library never writes more, and a stored record that
    // holds more (crafted, or from elsewhere) would have every one of them decoded and tried per message.
    let bytesLeft = ARCHIVED_STATES_MAX_BYTES;
    while (r.next()) {
      if (r.field === 1) {
        current = SessionState.decodeFrom(r.sub());
      } else if (r.field === 2) {
        if (++archived > ARCHIVED_STATES_MAX_LENGTH)
          throw new DecodeError('SessionRecord has too many archived states');
        const p = r.bytes();
        if (p.length <= bytesLeft && previous.length === archived - 1) {
          bytesLeft -= p.length;
          previous.push(p);
        }
      } else r.skip();
    }
    return SessionRecord.fromParts(current, previous);
  }

  toString(): string {
    return '[SessionRecord]';
  }
  toJSON(): string {
    return '[SessionRecord]';
  }
  [INSPECT](): string {
    return '[SessionRecord]';
  }
}
brandRecord(SessionRecord, 'SessionRecord');

/** libsignal's `archive_current_state`: clear the pending pre-key, insert first, drop the oldest. */
export function archive(previous: readonly Uint8Array[], state: SessionState): Uint8Array[] {
  const s = state.clone();
  s.pending = undefined;
  const out = [SecretBytes.copyOf(s.encode()), ...previous];
  if (out.length > ARCHIVED_STATES_MAX_LENGTH) out.length = ARCHIVED_STATES_MAX_LENGTH;
  return capArchive(out);
}

/** `record` with archived state `index` replaced by `state` (updated in place, not promoted). */
export function withArchivedState(record: SessionRecord, index: number, state: SessionState): SessionRecord {
  const s = state.clone();
  s.pending = undefined;
  const previous = record.previousStates.slice();
  previous[index] = s.encode();
  return SessionRecord.fromParts(record.currentState, capArchive(previous));
}
