// THE DOCUMENTED DIFFERENCE (packages/ratchet/README.md, Limits, "self-session forward jump"): in a
// session with oneself (same identity key, both addresses naming the same ServiceId: note-to-self
// between two devices of one account), libsignal-client has no forward-jump limit, while ours walks
// at most DECRYPT_WORK_BUDGET KDF steps per decrypt (message chain + SPQR chain + DH step), so a
// self-session jump past that is WORK_BUDGET_EXCEEDED. This test drives the same message bytes into
// libsignal-client 0.103.0 and into our SessionCipher holding the same keys, and pins both sides'
// decisions so that the difference stays known; libsignal's CPU time per jump is printed only.
import { ErrorCode, IdentityKeyPair, PrivateKey, PublicKey } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  DECRYPT_WORK_BUDGET,
  MAX_FORWARD_JUMPS,
  RatchetErrorCode,
  SELF_SESSION_MAX_FORWARD_JUMPS,
  SessionCipher,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { libs, type RawWireMessage } from '../src/libsignal.js';
import { ourBundleFromRaw } from './ratchet-endpoints.js';
import { createTwins, libDecision, ourDecision } from './ratchet-twins.js';

const enc = new TextEncoder();
const JUMPS = [25_001, 30_000, 60_000] as const;
// The one provider: the budget counts steps, not time, so the decision does not depend on it.
const provider = nodeProvider;

/** Our decision by the README's rule: the walk is the message chain plus the SPQR chain (no DH step here). */
function documentedOurDecision(jump: number): string {
  if (jump > SELF_SESSION_MAX_FORWARD_JUMPS) return `rejected:${ErrorCode.MessageGap}`;
  return 2 * jump <= DECRYPT_WORK_BUDGET ? 'accepted' : `rejected:${RatchetErrorCode.WorkBudgetExceeded}`;
}

describe('self-session forward jumps: libsignal-client 0.103.0 vs ours (the documented difference)', () => {
  it.each([
    ['DOCUMENTED DIFFERENCE: self-session (same identity, same ServiceId, devices 1 → 2)', true, 1],
    ['DOCUMENTED DIFFERENCE: self-session (the very same address, device 2 → 2)', true, 2],
    ['ordinary session (baseline: libsignal refuses past MAX_FORWARD_JUMPS)', false, 1],
  ] as const)('%s', async (what, self, senderDevice) => {
    const name = crypto.randomUUID();
    const receivers = await createTwins(libs.lib103, provider, { name, deviceId: 2 });
    // The sender is our device: with the receivers' identity for a self-session, its own otherwise.
    const identity = self
      ? new IdentityKeyPair(
          PublicKey.deserialize(receivers.lib.identityKey),
          PrivateKey.deserialize(receivers.lib.identityPrivateKey),
        )
      : undefined;
    const senderAddress = { name: self ? name : crypto.randomUUID(), deviceId: senderDevice };
    const senderStore = await InMemoryProtocolStore.create({
      provider,
      ...(identity ? { identityKeyPair: identity } : {}),
    });
    const sender = new SessionCipher(senderStore, receivers.address, {
      provider,
      localAddress: senderAddress,
    });
    await sender.initiate(ourBundleFromRaw(receivers.bundle));

    // Both receivers take message 0 (the session), then each jump from the state right after it.
    const jumps = self
      ? JUMPS
      : ([MAX_FORWARD_JUMPS - 2, MAX_FORWARD_JUMPS - 1, MAX_FORWARD_JUMPS, MAX_FORWARD_JUMPS + 1] as const);
    const last = Math.max(...jumps) + 1;
    const messages = new Map<number, RawWireMessage>();
    const wanted = new Set([0, ...jumps.map((j) => j + 1)]);
    for (let counter = 0; counter <= last; counter++) {
      const m = await sender.encrypt(enc.encode(`message ${counter}`));
      if (wanted.has(counter)) messages.set(counter, m);
    }
    const first = messages.get(0)!;
    expect(first.type).toBe('prekey'); // no reply yet: every message is a PreKey message on one chain
    expect(await libDecision(receivers, senderAddress, first)).toBe('accepted');
    expect(await ourDecision(receivers, senderAddress, first)).toBe('accepted');
    const libSession = receivers.lib.sessionBytes(senderAddress)!;
    const ourState = receivers.ours.snapshot();
    const libBefore = receivers.libSnapshot(senderAddress);
    const ourBefore = receivers.ourSnapshot();

    for (const jump of jumps) {
      // After counter 0 the next expected index is 1, so counter jump + 1 is a jump of `jump`.
      const m = messages.get(jump + 1)!;
      const started = process.cpuUsage();
      const lib = await libDecision(receivers, senderAddress, m);
      const cpu = process.cpuUsage(started);
      console.log(
        `[interop] ${what.replace('DOCUMENTED DIFFERENCE: ', '')} jump ${jump}: libsignal ${lib.split(':').slice(0, 2).join(':')} in ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU`,
      );
      const ours = await ourDecision(receivers, senderAddress, m);
      console.log(`[interop]   ours: ${ours}`);
      if (self) {
        // libsignal: no limit in a self-session (its double_ratchet.rs: max_forward_jumps usize::MAX).
        expect(lib).toBe('accepted');
        expect(ours.split(' ')[0]).toBe(documentedOurDecision(jump));
      } else {
        // Same decision as libsignal on every side of the boundary. (A message-chain jump of 25,000 is
        // refused by both here: this chain's SPQR index runs one ahead, a jump of 25,001 there.)
        expect(ours.split(':')[0]).toBe(lib.split(':')[0]);
      }
      if (ours.startsWith('rejected')) expect(receivers.ourSnapshot()).toBe(ourBefore);
      if (lib.startsWith('rejected')) expect(receivers.libSnapshot(senderAddress)).toBe(libBefore);
      // Back to the state right after message 0 for the next jump.
      receivers.lib.restoreSession(senderAddress, libSession);
      receivers.ours.restore(ourState);
      expect(receivers.libSnapshot(senderAddress)).toBe(libBefore);
      expect(receivers.ourSnapshot()).toBe(ourBefore);
    }
  });
});
