/**
 * SPQR, Signal's Sparse Post-Quantum Ratchet (V1, as libsignal ≥ 0.92 runs it): the ML-KEM Braid plus
 * its symmetric chains. Phase 1: standalone modules, not yet wired into the session. The session calls
 * `initSpqr` after PQXDH, `spqrSend` once per encrypted message and `spqrRecv` once per decrypted
 * message, and keeps the returned state only when the whole message verified.
 *
 * What the braid does: every epoch one side (the initiator in odd epochs) draws a fresh ML-KEM-768 key
 * pair and trickles it to the peer — a 64-byte header (ρ ‖ H(ek), MACed) and the 1152-byte key vector,
 * one 32-byte erasure-coded chunk per message — while the peer encapsulates incrementally, trickling
 * back ct1 (as soon as it has the header) and ct2 (once it has the whole key) plus a MAC. Both sides then
 * hold a fresh shared secret no one without the decapsulation key can compute; it seeds a new chain
 * epoch whose keys salt the Double-Ratchet message keys. An attacker who copied a party's whole state
 * loses the conversation again once an epoch completes after the compromise: post-quantum healing.
 * Because any K distinct chunk indices rebuild an object (GF(2^16) Reed–Solomon-style code), loss and
 * reordering only delay an epoch.
 */

export { deserializeSpqrState, SPQR_STATE_FORMAT_VERSION, serializeSpqrState } from './codec.js';
export { type SpqrErrorCode as SpqrErrorCodeType, SpqrErrorCode } from './errors.js';
export { PayloadType, parseSpqrMessage, type SpqrMessage, serializeSpqrMessage } from './message.js';
export {
  initSpqr,
  SPQR_BRAID_STEP_COST,
  type SpqrInitOptions,
  type SpqrRecvResult,
  type SpqrSendResult,
  spqrRecv,
  spqrRecvCost,
  spqrSend,
} from './ratchet.js';
export { SpqrState } from './state.js';
