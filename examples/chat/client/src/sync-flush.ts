/**
 * Sending the sync copies that did not go with their message (sync-copies.ts): each alone, to our
 * own other devices (the contact is not sent to again), in an operation of its own that removes its
 * row. A copy goes to all our other devices in one request, so the relay takes it for all of them
 * or none. Once it took it, the copy must not be encrypted again for those devices: the row is
 * removed right after, before anything else the operation sends (the device changes the copy's
 * fan-out found may make it tell a new device our groups and contacts), so the commit before that
 * next send keeps it removed; and when the operation fails after the copy went, the removal is
 * written again in a step of its own (as group-sends.ts does for the members a group send
 * reached). The ratchet steps that made the copy were committed before it left (operation.ts).
 * Only when that repair fails too, or the process stops first, does the copy go again with the
 * next flush (a second copy under new message keys; the device keeps one copy per message id).
 */
import type { ChatData } from './app-data.js';
import type { ClientCore } from './core.js';
import type { DeviceSendOutcome } from './devices.js';
import { devicesChanged } from './direct.js';
import { failedAfterSend } from './operation.js';
import { isRetryable } from './outbox.js';
import { dropSyncCopy, pendingSyncCopies, type WaitingSyncCopy } from './sync-copies.js';
import { address, dm } from './types.js';

/**
 * Sends the waiting sync copies, oldest first. Stops at the first one the relay cannot take now
 * (kept for the next flush); one refused for good is dropped (our other devices miss it; the
 * contact has the message). Returns how many went.
 */
export async function flushSyncCopies(c: ClientCore): Promise<number> {
  let sent = 0;
  for (;;) {
    const next = await c.run(async (tx) => (await pendingSyncCopies(tx))[0], true);
    if (!next) return sent;
    let taken: DeviceSendOutcome | undefined;
    try {
      const went = await c.run(async (tx) => {
        // Another flush may have sent it meanwhile.
        if ((await tx.get(next.key)) === undefined) return false;
        taken = await c.devices.sendSyncCopy(next.to, next.sync);
        await recordTaken(c, tx, next, taken);
        await devicesChanged(c, tx, taken.result, dm(await c.directory.nameOf(tx, next.to)));
        return true;
      });
      if (went) sent++;
    } catch (err) {
      // The copy's request is the operation's first send: a failure after a send is one after the
      // relay took the copy, whatever failed (a later send, the commit).
      if (failedAfterSend(err)) {
        const outcome = taken;
        await c.run((tx) => recordTaken(c, tx, next, outcome));
        sent++;
        continue;
      }
      if (isRetryable(err)) return sent;
      await c.run((tx) => dropSyncCopy(tx, next.key));
    }
  }
}

/** The relay took `copy` (its answer, when known): its row goes, its envelopes are kept for retries. */
async function recordTaken(
  c: ClientCore,
  tx: ChatData,
  copy: WaitingSyncCopy,
  outcome: DeviceSendOutcome | undefined,
): Promise<void> {
  await dropSyncCopy(tx, copy.key);
  for (const e of outcome?.envelopes ?? [])
    await c.retries.remember(tx, address(e.to, e.deviceId), e.serverTimestamp, copy.sync);
}
