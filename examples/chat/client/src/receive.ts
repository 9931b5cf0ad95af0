/**
 * Receiving, top-down: `receive` takes one relay envelope — sealed (opened, then handled as its inner
 * message), a retry receipt, a sender-key (group) message, or a pairwise one — decrypts it inside one
 * store operation, and `apply`s the decrypted content: a text or photo is stored with the new
 * ratchet state in the same transaction (so an envelope is acknowledged only once both committed);
 * group changes, sender keys, re-send requests, invitation answers, contact syncs and receipts are
 * handed to their modules.
 */
import { DuplicateMessageError, E2eeError, fromBase64, StoreError, toBase64 } from '@e2ee-kit/core';
import type { HealingDecryptResult } from '@e2ee-kit/ratchet';
import { SenderKeyDistributionMessage, SenderKeyMessage } from '@e2ee-kit/sender-keys';
import type { Envelope } from './api.js';
import { APP_KEYS, type ChatData } from './app-data.js';
import { consent, invitationAnswered } from './contacts.js';
import { type Content, decodeContent, encodeContent, isMessageContent } from './content.js';
import type { ClientCore } from './core.js';
import { encryptTo } from './direct.js';
import { isDirectoryRefusal } from './directory.js';
import { distribute, type GroupOutboxEntry, inGroup, loadGroup } from './groups.js';
import { applyReceipt } from './receipts.js';
import { dropReason } from './sealed.js';
import { address, dm, type Group, groupConversation, type Incoming } from './types.js';

/** Processes one envelope (decrypt, apply, store) and commits. Resolve = safe to acknowledge. */
export async function receive(c: ClientCore, env: Envelope): Promise<void> {
  if (env.kind === 'sealed') return receiveSealed(c, env);
  try {
    if (env.kind === 'plaintext') return await receiveReceipt(c, env);
    await c.run(async (tx) => {
      const incoming = await c.incoming(tx, env);
      if (env.kind === 'senderkey') await receiveGroup(c, tx, incoming);
      else await receivePairwise(c, tx, incoming);
    });
  } catch (err) {
    if (!isDirectoryRefusal(err)) throw err;
    await c.run(async (tx) => {
      await c.dropNote(tx, 'directory', '', `dropped a message from an unknown sender (${err.code})`);
    });
  }
}

/**
 * Opens a sealed envelope (certificate checked against the pinned trust root), then decrypts the
 * inner message as coming from the certified sender — only if the identity key our session holds
 * for that sender is the certificate's. Anything else rolls back and is dropped with a note.
 */
export async function receiveSealed(c: ClientCore, env: Envelope): Promise<void> {
  try {
    await c.run(async (tx) => {
      const opened = await c.sealed.open(tx, env);
      const { identityKey } = opened;
      const sender = address(opened.inner.from, opened.inner.fromDevice);
      // Checked before decrypting when we know the sender, and after a first (prekey) message.
      const known = await c.protocol.getIdentity(sender);
      if (known && !known.equals(identityKey)) throw new SealedIdentityMismatch();
      const inner = await c.incoming(tx, opened.inner);
      if (inner.kind === 'senderkey') await receiveGroup(c, tx, inner);
      else await receivePairwise(c, tx, inner);
      const held = known ?? (await c.protocol.getIdentity(sender));
      if (!held || !held.equals(identityKey)) throw new SealedIdentityMismatch();
    });
  } catch (err) {
    if (!(err instanceof SealedIdentityMismatch) && !E2eeError.is(err) && !isDirectoryRefusal(err)) throw err;
    const why =
      err instanceof SealedIdentityMismatch
        ? 'identity mismatch'
        : isDirectoryRefusal(err)
          ? 'unknown sender'
          : dropReason(err);
    await c.run(async (tx) => {
      await c.dropNote(tx, 'sealed', '', `dropped a sealed message that failed validation (${why})`);
    });
  }
}

/** A retry receipt: re-send the message it names (or a null message) over a new session. */
export function receiveReceipt(c: ClientCore, env: Envelope): Promise<void> {
  return c.run(async (tx) => {
    const done = await c.retries.onReceipt(
      tx,
      env,
      encodeContent({ t: 'hello', ...(await c.sealed.profileKeyField(tx)) } as Content),
    );
    if (done === 'resent') {
      const from = await c.directory.nameOf(tx, env.from);
      await c.note(tx, dm(from), c.name, `re-sent a message ${from} could not decrypt`);
    }
  });
}

export async function receivePairwise(c: ClientCore, tx: ChatData, env: Incoming): Promise<void> {
  let content: Content | undefined;
  let undecodable = false;
  let delivering = false;
  /** What our own `deliver` threw: never a reason for a receipt, always a rollback. */
  let ownFailure: { error: unknown } | undefined;
  let result: HealingDecryptResult;
  try {
    // Atomic delivery: the text is written in the store transaction that commits the new session
    // state. Control contents may send (to this same address), so they are applied once the
    // cipher returned — still in the same transaction. A failure a new session fixes sends the
    // sender a retry receipt (healing.ts).
    result = await c.retries.decrypt(tx, env, {
      deliver: async ({ plaintext }) => {
        delivering = true;
        try {
          await c.sealed.learn(tx, env.fromAci, plaintext);
          try {
            content = decodeContent(plaintext);
          } catch {
            undecodable = true;
            return;
          }
          if (isMessageContent(content)) {
            await apply(c, tx, env, content);
            content = undefined;
          }
        } catch (error) {
          ownFailure = { error };
          throw error;
        }
      },
    });
  } catch (err) {
    if (ownFailure) throw ownFailure.error; // our own write failed: roll the whole operation back
    if (delivering) throw err;
    if (err instanceof DuplicateMessageError) return; // already processed: drop
    if (!E2eeError.is(err)) throw err;
    await noteFromKnown(
      c,
      tx,
      env,
      // Shown in the chat as is: words for the user, not the error code.
      `a message from ${env.from} could not be decrypted; ask ${env.from} to send it again`,
    );
    return;
  }
  if (ownFailure) throw ownFailure.error;
  if (result.kind !== 'decrypted') {
    const asked = result.kind === 'retry-requested' ? '; asked for it again' : '';
    await noteFromKnown(
      c,
      tx,
      env,
      `could not decrypt a message from ${env.from} (${result.error.code})${asked}`,
    );
    return;
  }
  await tx.addMember(APP_KEYS.peers, env.fromAci);
  if (undecodable) {
    await c.note(tx, dm(env.from), env.from, `${env.from} sent content this client does not understand`);
    return;
  }
  if (content) await apply(c, tx, env, content);
}

export async function receiveGroup(
  c: ClientCore,
  tx: ChatData,
  env: Incoming,
  retry = false,
): Promise<boolean> {
  const sender = address(env.from, env.fromDevice);
  const outcome = await c.groupCipher.tryDecrypt(sender, env.body, {
    // Atomic delivery: the text commits with the advanced sender-key state (an error of ours in
    // here is rethrown by tryDecrypt and rolls the operation back).
    deliver: async ({ plaintext, distributionId }) => {
      let content: Content;
      try {
        content = decodeContent(plaintext);
      } catch {
        return;
      }
      if (!isMessageContent(content) || content.group !== distributionId) return;
      if (!(await inGroup(tx, content.group, env.from))) return; // declined or never joined
      // Sent from another of our devices: shown here as sent.
      const own = env.from === c.name;
      await c.storeText(tx, groupConversation(content.group), env.from, content, own);
    },
  });
  switch (outcome.status) {
    case 'decrypted':
      return true;
    case 'missing-sender-key': {
      if (retry) return false;
      // A group we did not join (or an invitation not accepted): dropped, nothing sent back.
      if (!(await inGroup(tx, outcome.distributionId, env.from))) return true;
      // Keep the ciphertext (so it can be acknowledged) and ask the sender for its key and for
      // this message: a distribution message only opens messages from its iteration on.
      const skm = SenderKeyMessage.deserialize(env.body);
      const position = { chain: skm.chainId, iteration: skm.iteration };
      const key = pendingKey(outcome.distributionId, env.from, position.chain, position.iteration);
      const index = APP_KEYS.pending(outcome.distributionId, env.from);
      const waiting = await tx.members(index);
      // Nothing of a message without its key can be checked, so a relay can forge any number of them
      // "from" any member: a replay asks nothing again, and past the cap they are dropped unasked.
      if (waiting.includes(key)) return false;
      if (waiting.length >= MAX_PENDING_PER_SENDER) {
        await c.dropNote(
          tx,
          groupConversation(outcome.distributionId),
          env.from,
          `a group message from ${env.from} could not be decrypted and was not kept (too many are waiting for ${env.from}'s key)`,
        );
        return true;
      }
      await tx.putJson(key, { ...env, body: toBase64(env.body) });
      await tx.addMember(index, key);
      const out = await encryptTo(
        c,
        env.from,
        { t: 'resend', group: outcome.distributionId, ...position },
        env.fromDevice,
      );
      await c.send([out]);
      return false;
    }
    case 'duplicate':
      // On a retry this means the key we got starts after this message: wait for its re-send.
      return !retry;
    case 'rejected': {
      // Noted only in the group the message names, when we are in it with its sender. Anything
      // else — malformed, a made-up group — is dropped unnoted: a note elsewhere opened a
      // conversation (it was `group:unknown`, shown as a group) for anyone who sent one.
      const claimed = claimedGroup(env.body);
      if (claimed !== undefined && (await inGroup(tx, claimed, env.from)))
        await c.dropNote(
          tx,
          groupConversation(claimed),
          env.from,
          `rejected a group message from ${env.from} (${outcome.error.code})`,
        );
      return true;
    }
  }
}

/** The group a sender-key message names, or undefined when it does not parse. */
function claimedGroup(body: Uint8Array): string | undefined {
  try {
    return SenderKeyMessage.deserialize(body).distributionId;
  } catch {
    return undefined;
  }
}

/**
 * A notice about a 1:1 message we could not read, written only where the sender is already known —
 * a conversation with them, a contact, or an account we had a session message from. Registering an
 * account costs nothing, so a note for anyone at all let each made-up account add a conversation
 * to the list (named as it chose). A stranger's failed first message still gets its retry receipt
 * (healing.ts), and its re-send opens the conversation as any first message does.
 */
async function noteFromKnown(c: ClientCore, tx: ChatData, env: Incoming, text: string): Promise<void> {
  const conversation = dm(env.from);
  const known =
    (await tx.members(APP_KEYS.conversations)).includes(conversation) ||
    (await tx.members(APP_KEYS.peers)).includes(env.fromAci) ||
    (await consent(c, tx).contacts()).includes(env.from);
  if (known) await c.dropNote(tx, conversation, env.from, text);
}

export async function apply(c: ClientCore, tx: ChatData, env: Incoming, content: Content): Promise<void> {
  const from = env.from;
  switch (content.t) {
    case 'attachment':
    case 'text': {
      if (content.group === undefined) {
        // A sync copy from another of our devices: what it sent, shown here as sent.
        if (from === c.name) {
          if (content.to !== undefined && content.to !== c.name)
            await c.storeText(tx, dm(content.to), c.name, content, true);
          return;
        }
        await c.storeText(tx, dm(from), from, content, false);
        return;
      }
      // A group text re-sent pairwise because we could not decrypt the original.
      const group = await loadGroup(tx, content.group);
      if (!group || !group.members.includes(from) || !content.resent) return;
      const key = pendingKey(content.group, from, content.resent.chain, content.resent.iteration);
      if ((await tx.get(key)) === undefined) return; // we did not ask for this one
      await tx.delete(key);
      await tx.removeMember(APP_KEYS.pending(content.group, from), key);
      await c.storeText(tx, groupConversation(content.group), from, content, from === c.name);
      return;
    }
    case 'group': {
      const g = content.group;
      const known = await loadGroup(tx, g.id);
      // Only the admin changes a group; another device of ours copies the state it holds.
      const own = from === c.name;
      if (!own && known && known.admin !== from) return;
      if (!own && !known && g.admin !== from) return;
      if (!known && !own) {
        // Being added needs this user's consent (their who-can-add-me setting, or an invitation).
        const decision = await consent(c, tx).screenAdd(c.name, g, from);
        if (decision.action === 'ignore') return;
        if (decision.action === 'invite') {
          c.emit('invitation', decision.invitation);
          return;
        }
      }
      const active = g.members.includes(c.name);
      const group: Group = { id: g.id, title: g.title, admin: g.admin, members: [...g.members], active };
      await tx.putJson(APP_KEYS.group(g.id), group);
      await tx.addMember(APP_KEYS.groups, g.id);
      const before = new Set(known?.members ?? []);
      const removed = [...before].filter((m) => !g.members.includes(m));
      if (!known)
        await c.note(
          tx,
          groupConversation(g.id),
          from,
          `${from} created "${g.title}" with ${g.members.join(', ')}`,
        );
      for (const m of removed) await c.note(tx, groupConversation(g.id), from, `${from} removed ${m}`);
      c.emit('group', group);
      return;
    }
    case 'skdm': {
      // Unreadable is the sender's fault: dropped (and acknowledged). Thrown, it would roll back as
      // our own failure, and the envelope would come again, and fail again, on every connection.
      let skdm: SenderKeyDistributionMessage;
      try {
        skdm = SenderKeyDistributionMessage.deserialize(fromBase64(content.skdm));
      } catch {
        return;
      }
      if (skdm.distributionId !== content.group) return;
      if (!(await inGroup(tx, content.group, from))) return; // not a group we joined
      try {
        await c.groupCipher.processDistributionMessage(address(from, env.fromDevice), skdm);
      } catch (err) {
        if (E2eeError.is(err) && !(err instanceof StoreError)) return;
        throw err;
      }
      // Messages that arrived before the key: try them again now.
      const index = APP_KEYS.pending(content.group, from);
      for (const key of await tx.members(index)) {
        const raw = await tx.json<Incoming & { body: string }>(key);
        if (!raw) continue;
        const pending: Incoming = { ...raw, body: fromBase64(raw.body) };
        if (await receiveGroup(c, tx, pending, true)) {
          await tx.delete(key);
          await tx.removeMember(index, key);
        }
      }
      return;
    }
    case 'resend': {
      const group = await loadGroup(tx, content.group);
      if (!group || !group.active || !group.members.includes(from)) return;
      const me = address(c.name, c.deviceId);
      await c.groupCipher.markNeedsDistribution(me, group.id, [address(from, env.fromDevice)]);
      await distribute(c, tx, group);
      // The message itself, pairwise, if we still have it (and only to a current member).
      const outbox = (await tx.json<GroupOutboxEntry[]>(APP_KEYS.outbox(group.id))) ?? [];
      const kept = outbox.find(
        (e) => e.chain === content.chain && e.iteration === content.iteration,
      )?.content;
      if (kept && isMessageContent(kept)) {
        const resent: Content = { ...kept, resent: { chain: content.chain, iteration: content.iteration } };
        await c.send([await encryptTo(c, from, resent, env.fromDevice)]);
      }
      return;
    }
    case 'invite-answer':
      await invitationAnswered(c, tx, from, content.group, content.accepted);
      return;
    case 'contacts':
      // Only another device of our own account may set our contacts and privacy setting.
      if (from === c.name) await consent(c, tx).applySync(content.contacts, content.whoCanAddMe);
      return;
    case 'receipt':
      for (const m of await applyReceipt(tx, from, content)) c.emit('message-status', m);
      return;
    case 'hello':
      return;
  }
}

/**
 * Group messages kept per group and sender while their sender key is missing (each one asks its
 * sender once for a re-send, and a distribution message retries them all).
 */
export const MAX_PENDING_PER_SENDER = 50;

/** Where a group message that arrived before its sender key waits (and its index row). */
const pendingKey = (group: string, from: string, chain: number, iteration: number) =>
  `pending:${group}:${from}:${chain}:${iteration}`;

export class SealedIdentityMismatch extends Error {
  constructor() {
    super('the sealed message certificate names another identity key than our session holds');
    this.name = 'SealedIdentityMismatch';
  }
}
