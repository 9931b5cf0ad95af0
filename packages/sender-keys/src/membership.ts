/**
 * The sender side of group membership: who holds the current chain, rotation when a holder is no
 * longer a member (or the chain is too old), and the devices a distribution message must reach.
 * `GroupCipher`'s methods of the same names call these.
 */
import { type Address, validateAddress } from '@e2ee-kit/core';
import { distributionMessageFor, type GroupContext } from './group-context.js';
import type { PrepareSendOptions, RotationReason, SendPlan } from './group-types.js';
import { DeviceSet, decodeHolderLists, uniqueDevices } from './holders.js';
import type { SenderKeyDistributionMessage } from './messages.js';
import { SenderKeyRecord, type SenderKeyStateData } from './record.js';
import { normalizeDistributionId } from './uuid.js';

/**
 * Call before sending to a group. Given the member devices that should read the message now, it
 * rotates the chain when a device that held the key is no longer a member (or the chain is older
 * than `maxAgeMs`), and lists the devices that need the distribution message. Send
 * `plan.distributionMessage` to `plan.needsDistribution` over pairwise sessions, call
 * `markDelivered`, then `encrypt` once.
 */
export async function prepareSend(
  ctx: GroupContext,

  sender: Address,
  distributionId: string,
  members: readonly Address[],
  options: PrepareSendOptions = {},
): Promise<SendPlan> {
  validateAddress(sender);
  const id = normalizeDistributionId(distributionId);
  if (!Array.isArray(members)) throw new TypeError('members must be an array of addresses');
  const memberList = members.slice();
  for (const m of memberList) validateAddress(m);
  const { maxAgeMs } = options;
  if (maxAgeMs !== undefined && (typeof maxAgeMs !== 'number' || Number.isNaN(maxAgeMs) || maxAgeMs < 0)) {
    throw new RangeError('maxAgeMs must be a non-negative number');
  }
  return ctx.run(sender, id, () =>
    ctx.transact(async (store) => {
      const record = await ctx.load(sender, id, store);
      const now = ctx.now();
      let state = record?.states[0];
      let rotation: RotationReason | undefined;
      const removed: Address[] = [];
      // One pass over the members: which holders are still members, which members lack the key (a
      // holder that asked for a resend lacks it, and still counts as a holder if it was removed).
      const own = state?.signingPrivate === undefined ? undefined : state;
      const { lists, saved } =
        own === undefined
          ? { lists: decodeHolderLists(undefined), saved: false }
          : await ctx.savedHoldersOf(sender, id, own, store);
      const { holders, resend } = lists;
      const held = new Uint8Array(holders.size);
      const lacking = new DeviceSet();
      for (const m of memberList) {
        const i = holders.indexOf(m.name, m.deviceId);
        if (i >= 0) held[i] = 1;
        if (i < 0 || (resend.size > 0 && resend.indexOf(m.name, m.deviceId) >= 0))
          lacking.add(m.name, m.deviceId);
      }
      if (state === undefined || state.signingPrivate === undefined) {
        rotation = 'created';
      } else {
        for (let i = 0; i < held.length; i++) if (held[i] === 0) removed.push(holders.at(i));
        if (removed.length > 0) rotation = 'member-removed';
        else if (maxAgeMs !== undefined && state.createdAt !== 0 && now - state.createdAt >= maxAgeMs) {
          rotation = 'expired';
        }
      }
      // A chain this function made but never got to record as handed out: the call that rotated
      // stored it, then failed (no transaction). This retry reports that rotation, which is in
      // effect; the devices it removed were named by the failed call.
      const unreported = rotation === undefined && !saved ? own?.rotation : undefined;
      let needsDistribution = lacking.list();
      let handed = holders.list();
      let again = resend.list();
      let current = record as SenderKeyRecord;
      if (rotation !== undefined) {
        state = { ...(await ctx.newOwnState(record?.chainIds ?? [])), rotation };
        current = SenderKeyRecord.fromStates([state]);
        await ctx.save(sender, id, current, store);
      }
      rotation ??= unreported;
      if (rotation !== undefined) {
        needsDistribution = uniqueDevices(memberList, 'members').list();
        handed = [];
        again = [];
      }
      // Recorded as handed the chain before the app hands it out (and as needing it until
      // `markDelivered`): a send that reports a failure may still have arrived, so the device's
      // removal must rotate the chain whether or not its delivery was ever confirmed.
      const fresh = needsDistribution.filter(
        (d) => rotation !== undefined || holders.indexOf(d.name, d.deviceId) < 0,
      );
      // After a rotation always (an empty list too): a saved list marks the rotation as reported.
      if (fresh.length > 0 || rotation !== undefined)
        await ctx.saveHolders(sender, id, current, [...handed, ...fresh], [...again, ...fresh], store);
      const chain = state as SenderKeyStateData;
      return {
        distributionId: id,
        chainId: chain.chainId,
        rotation,
        removed,
        needsDistribution,
        distributionMessage: distributionMessageFor(id, chain),
      };
    }),
  );
}

/**
 * Records that `devices` received the distribution message of chain `chainId`. Returns false (and
 * records nothing) if the chain was replaced in the meantime: prepare the send again.
 */
export async function markDelivered(
  ctx: GroupContext,

  sender: Address,
  distributionId: string,
  chainId: number,
  devices: readonly Address[],
): Promise<boolean> {
  validateAddress(sender);
  const id = normalizeDistributionId(distributionId);
  const delivered = uniqueDevices(devices, 'devices');
  return ctx.run(sender, id, () =>
    ctx.transact(async (store) => {
      const record = await ctx.load(sender, id, store);
      const state = record?.states[0];
      if (state === undefined || state.chainId !== chainId || state.signingPrivate === undefined)
        return false;
      const { holders, resend } = await ctx.holdersOf(sender, id, state, store);
      const updated = holders.list();
      for (const d of delivered.list()) if (holders.indexOf(d.name, d.deviceId) < 0) updated.push(d);
      const stillResend = resend.list().filter((d) => !delivered.has(d));
      if (updated.length !== holders.size || stillResend.length !== resend.size)
        await ctx.saveHolders(sender, id, record as SenderKeyRecord, updated, stillResend, store);
      return true;
    }),
  );
}

/**
 * Forgets that `devices` hold the current key, so the next `prepareSend` lists them again. Use it when
 * a device asks for a resend (it reported a missing sender key) or was re-registered with the same id.
 * They stay recorded as having been handed the chain: one that is no longer a member (a removed
 * device can ask too) still makes the next `prepareSend` rotate.
 */
export async function markNeedsDistribution(
  ctx: GroupContext,

  sender: Address,
  distributionId: string,
  devices: readonly Address[],
): Promise<void> {
  validateAddress(sender);
  const id = normalizeDistributionId(distributionId);
  const drop = uniqueDevices(devices, 'devices');
  await ctx.run(sender, id, () =>
    ctx.transact(async (store) => {
      const record = await ctx.load(sender, id, store);
      const state = record?.states[0];
      if (state === undefined || state.signingPrivate === undefined) return;
      const { holders, resend } = await ctx.holdersOf(sender, id, state, store);
      const added = holders.list().filter((h) => drop.has(h) && !resend.has(h));
      if (added.length === 0) return;
      await ctx.saveHolders(
        sender,
        id,
        record as SenderKeyRecord,
        holders.list(),
        [...resend.list(), ...added],
        store,
      );
    }),
  );
}

/**
 * Replaces `sender`'s chain now: new chain id, chain key and signing key under the same distribution
 * id, with nobody recorded as holding it. Returns the new distribution message.
 */
export async function rotate(
  ctx: GroupContext,
  sender: Address,
  distributionId: string,
): Promise<SenderKeyDistributionMessage> {
  validateAddress(sender);
  const id = normalizeDistributionId(distributionId);
  return ctx.run(sender, id, () =>
    ctx.transact(async (store) => {
      const record = await ctx.load(sender, id, store);
      const state = await ctx.newOwnState(record?.chainIds ?? []);
      await ctx.save(sender, id, SenderKeyRecord.fromStates([state]), store);
      return distributionMessageFor(id, state);
    }),
  );
}

/** Member devices recorded as holding `sender`'s current chain for `distributionId`. */
export async function keyHolders(
  ctx: GroupContext,
  sender: Address,
  distributionId: string,
): Promise<Address[]> {
  validateAddress(sender);
  const id = normalizeDistributionId(distributionId);
  return ctx.run(sender, id, async () => {
    const record = await ctx.load(sender, id);
    const state = record?.states[0];
    if (state?.signingPrivate === undefined) return [];
    const { holders, resend } = await ctx.holdersOf(sender, id, state);
    return holders.list().filter((h) => !resend.has(h));
  });
}
