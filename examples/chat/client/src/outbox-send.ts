/**
 * Sending as an app does: a text or photo goes now, or — when the relay cannot be reached, or
 * something waits before it in that chat — into the outbox (outbox.ts), to go in order when the
 * relay is back. Photos are encrypted at once; their blob waits in the store (blob-cache.ts) and is
 * uploaded before the message, its blob id committed in between, so a restart loses nothing and
 * sends nothing twice. Opening a photo uses the copy on this device when there is one.
 */
import { E2eeError } from '@e2ee-kit/core';
import { RelayError } from './api.js';
import type { ChatData } from './app-data.js';
import { AttachmentError, AttachmentErrorCode, type AttachmentPointer } from './attachments.js';
import { cachedBlob } from './blob-cache.js';
import type { Content, MessageContent } from './content.js';
import type { ClientCore } from './core.js';
import { deliverText, sendDm, settleLeftHistory } from './direct.js';
import {
  dropGroupSend,
  dropGroupTarget,
  GroupSendProgress,
  hasGroupSendFor,
  pendingGroupSends,
  settleGroupSend,
} from './group-sends.js';
import { deliverGroup, loadGroup, sendGroup, sendGroupContent } from './groups.js';
import { clearPending, notePending } from './history-pending.js';
import { failedAfterSend } from './operation.js';
import {
  enqueue,
  enqueuePhoto,
  hasPendingFor,
  isRetryable,
  type OutboxPhoto,
  type OutboxTarget,
  type OutboxText,
  pending,
  placeholderId,
  recordUpload,
  remove as removeQueued,
} from './outbox.js';
import { flushOwnDevices } from './own-device-news.js';
import { encryptPhoto, openPhoto, type PhotoMeta, uploadBlob } from './photos.js';
import { markSent, setStatus, storedMessage } from './receipts.js';
import { flushSyncCopies } from './sync-flush.js';
import { type ChatMessage, dm, type GroupSentInfo, randomId, type SentInfo } from './types.js';

/**
 * Sends a text to a conversation (`dm:<name>` or `group:<id>`) the way an app does: when the
 * relay cannot be reached, the text is kept in the outbox (status "pending") and sent when it is
 * back (`flushOutbox`, called on every reconnect). Other failures (an untrusted identity, a
 * refused request) throw and store nothing. Like `sendText`, a pending-history row is committed
 * before the first ciphertext leaves (history-pending.ts): a text the relay took is in this
 * device's history even when its recording and the repair both fail, or the process stops.
 */
export async function send(c: ClientCore, conversation: string, text: string): Promise<ChatMessage> {
  const target = targetOf(conversation);
  const content = { t: 'text' as const, id: randomId(c.provider), text, sentAt: c.now() };
  const shown = groupText(content, target);
  const progress = new GroupSendProgress();
  try {
    return await c.run(async (tx) => {
      // Keep the order: a text written after one that waits in the outbox waits behind it.
      if (await hasPendingFor(tx, target)) throw new Queued();
      await notePending(tx, conversation, shown);
      const { message } = await sendNow(c, tx, target, content, progress);
      await clearPending(tx, content.id);
      return message;
    });
  } catch (err) {
    // The relay took it and only the bookkeeping failed: recorded as sent, never sent again (in a
    // group, the members not reached get it with the next flush, group-sends.ts).
    if (wentOut(err, target, progress))
      return c.run(async (tx) => {
        if (target.kind === 'group') await settleGroupSend(tx, target.id, shown, progress);
        const stored = await c.storeText(tx, conversation, c.name, shown, true);
        await clearPending(tx, content.id);
        return stored;
      });
    if (!(err instanceof Queued) && !isRetryable(err)) {
      // Nothing left: the row (committed if a send was tried) must not become a history entry.
      await c.run((tx) => clearPending(tx, content.id)).catch(() => {});
      throw err;
    }
    const queued = c.run(async (tx) => {
      await enqueue(tx, { kind: 'text', target, id: content.id, text, sentAt: content.sentAt });
      await clearPending(tx, content.id); // the outbox entry and its "pending" history line replace it
      return c.storeText(tx, conversation, c.name, shown, true, 'pending');
    });
    // Queued behind earlier texts while the relay answers: those may go now, and this one after.
    if (err instanceof Queued) void queued.then(() => flushOutbox(c)).catch(() => {});
    return queued;
  }
}

export async function sendNow(
  c: ClientCore,
  tx: ChatData,
  target: OutboxTarget,
  content: Extract<Content, { t: 'text' }>,
  progress?: GroupSendProgress,
) {
  if (target.kind === 'dm') {
    await deliverText(c, tx, target.contact, content);
    return { message: await c.storeText(tx, dm(target.contact), c.name, content, true) };
  }
  return sendGroupContent(c, tx, target.id, groupText(content, target), progress);
}

/**
 * True when `err` failed a send after the message itself left: a 1:1 message the relay took a
 * copy of, a group message the relay took for at least one member. (A group send can fail after
 * only its sender key went out, to some members: the message did not leave, and is sent again.)
 */
function wentOut(err: unknown, target: OutboxTarget, progress: GroupSendProgress): boolean {
  return failedAfterSend(err) && (target.kind === 'dm' || progress.reached.size > 0);
}

/**
 * Sends a photo to `to` (`dm:<name>` or `group:<id>`): encrypted on this device under a fresh key,
 * uploaded as an opaque blob, and announced by a pointer inside the end-to-end encrypted message.
 * When the relay cannot be reached (or something waits before it in that chat), the encrypted photo
 * waits in the outbox like a text (status "pending", no envelopes) and goes when the relay is back.
 * Throws `AttachmentError` (over 10 MiB, not an image, relay refused) before anything is sent.
 * The message goes as `sendText` and `sendGroupText` send theirs (`sendDm`, `sendGroup`: the same
 * repair after the relay took it), so a group photo resolves with what they say: `envelopes` for
 * the members the relay took it for, `waiting` for those the next flush sends it to (every other
 * member when it waits in the outbox).
 */
export async function sendPhoto(
  c: ClientCore,
  to: string,
  bytes: Uint8Array,
  meta: PhotoMeta,
): Promise<SentInfo | GroupSentInfo> {
  const [kind, name] = [to.slice(0, to.indexOf(':')), to.slice(to.indexOf(':') + 1)];
  if ((kind !== 'dm' && kind !== 'group') || !name) throw new TypeError('to must be dm:<name> or group:<id>');
  const target = targetOf(to);
  // Encrypted first: the key and digest are fixed now, whenever the upload happens.
  const photo = await encryptPhoto(c.provider, bytes, meta);
  const id = randomId(c.provider);
  const sentAt = c.now();
  const behind = await c.run((tx) => hasPendingFor(tx, target), true);
  let uploaded: string | undefined;
  if (!behind) {
    try {
      // Outside the store operation: a slow upload holds no lock.
      uploaded = await uploadBlob(c.api, photo.blob, photo.digest);
      const pointed = { t: 'attachment' as const, id, attachment: photo.pointer(uploaded), sentAt };
      // A text queued meanwhile: this photo waits behind it.
      const before = async (tx: ChatData) => {
        if (await hasPendingFor(tx, target)) throw new Queued();
      };
      return target.kind === 'group'
        ? await sendGroup(c, target.id, { ...pointed, group: target.id }, { before })
        : await sendDm(c, target.contact, pointed, { before });
    } catch (err) {
      // It did not leave (one that did resolves; its pending-history row is gone): it waits, or fails.
      if (!(err instanceof Queued) && !isRetryable(err)) throw err;
    }
  }
  const pointer = photo.pointer(placeholderId(id));
  const waiting = { t: 'attachment' as const, id, attachment: pointer, sentAt };
  const sent = await c.run(async (tx) => {
    await clearPending(tx, id); // a send tried before: the outbox entry replaces its row
    await enqueuePhoto(
      tx,
      {
        kind: 'photo',
        target,
        id,
        sentAt,
        pointer,
        blobBytes: photo.blob.length,
        ...(uploaded ? { uploaded } : {}),
      },
      photo.blob,
    );
    if (target.kind === 'dm')
      return { envelopes: [], message: await c.storeText(tx, to, c.name, waiting, true, 'pending') };
    const group = await loadGroup(tx, target.id);
    const shown = { ...waiting, group: target.id };
    return {
      envelopes: [],
      message: await c.storeText(tx, to, c.name, shown, true, 'pending'),
      rotation: undefined,
      distributedTo: [],
      waiting: (group?.members ?? []).filter((m) => m !== c.name),
    } satisfies GroupSentInfo;
  });
  // Queued behind others while the relay answers: those may go now, and this one after.
  if (behind) void flushOutbox(c).catch(() => {});
  return sent;
}

/**
 * Downloads, verifies (MAC and digest) and decrypts a received or sent photo — or opens it from
 * this device when it holds the blob (a photo waiting in the outbox, one a backup brought). Throws
 * `AttachmentError`.
 */
export async function openAttachment(c: ClientCore, pointer: AttachmentPointer): Promise<Uint8Array> {
  const local =
    typeof pointer?.digest === 'string' ? await cachedBlob(c.committed, pointer.digest) : undefined;
  return openPhoto(c.api, c.provider, pointer, local);
}

/** Each client's running flush: one at a time, so two never race for the same entries. */
const runningFlush = new WeakMap<ClientCore, Promise<number>>();

/**
 * Sends what waits in the outbox, oldest first; stops at the first one the relay still cannot take.
 * Sync copies that did not go with their message (sync-copies.ts, sync-flush.ts) go first, each alone.
 * A text refused for good (e.g. the contact's verified key changed) is marked "failed".
 * Returns how many were sent since the call: a flush asked for while another runs (the relay's
 * "ready" frame starts one, so does a queued send) waits for it, counts what it sent, then looks
 * again for what came after it looked.
 */
export function flushOutbox(c: ClientCore): Promise<number> {
  const running = runningFlush.get(c);
  if (running)
    return running.then(
      async (n) => n + (await flushOutbox(c)),
      () => flushOutbox(c),
    );
  const flush = flushOnce(c).finally(() => {
    if (runningFlush.get(c) === flush) runningFlush.delete(c);
  });
  runningFlush.set(c, flush);
  return flush;
}

async function flushOnce(c: ClientCore): Promise<number> {
  // Raw sends whose history entry could not be written (history-pending.ts).
  await settleLeftHistory(c);
  // Sync copies left waiting by sends the contact took first (older than anything queued below).
  await flushSyncCopies(c);
  // Devices of ours found by an operation that failed before it told them our groups and contacts.
  await flushOwnDevices(c);
  // Group messages some members did not get (a group's queued texts go after them, in order).
  await flushGroupSends(c);
  let sent = 0;
  for (;;) {
    const next = await c.run(async (tx) => (await pending(tx))[0], true);
    if (!next) return sent;
    const { key, entry } = next;
    const target = entry.target;
    // A message some members did not get (left by the entry before) goes to them first, in order.
    if (target.kind === 'group' && (await waitsForGroupSend(c, target.id))) {
      await flushGroupSends(c);
      if (await waitsForGroupSend(c, target.id)) return sent;
    }
    let content: MessageContent | undefined;
    const progress = new GroupSendProgress();
    try {
      const queued = entry.kind === 'photo' ? await uploadQueued(c, key, entry) : queuedText(entry);
      content = target.kind === 'group' ? { ...queued, group: target.id } : queued;
      const sending = content;
      await c.run(async (tx) => {
        // Another flush may have sent it meanwhile (operations run one at a time, not flushes).
        if ((await tx.get(key)) === undefined) throw new Queued();
        if (target.kind === 'dm') await deliverText(c, tx, target.contact, sending);
        else await deliverGroup(c, tx, target.id, sending, { progress });
        await removeQueued(tx, key);
        const updated = await markSent(tx, sending);
        if (updated) c.emit('message-status', updated);
      });
      sent++;
    } catch (err) {
      if (err instanceof Queued) continue;
      if (content && wentOut(err, target, progress)) {
        const went = content;
        // The relay took it; only recording that failed. Done now, in a step of its own: sending
        // it again would give the contact a second copy (group members not reached: group-sends.ts).
        await c.run(async (tx) => {
          if (target.kind === 'group') await settleGroupSend(tx, target.id, went, progress);
          await removeQueued(tx, key);
          const updated = await markSent(tx, went);
          if (updated) c.emit('message-status', updated);
        });
        sent++;
        continue;
      }
      if (isRetryable(err)) return sent;
      // Refused for good: marked failed in an operation of its own (nothing of the failed
      // attempt, such as a ratchet step, is kept).
      const why = E2eeError.is(err) ? err.code : err instanceof RelayError ? err.code : 'error';
      await c.run(async (tx) => {
        await removeQueued(tx, key);
        const updated = await setStatus(tx, entry.id, 'failed');
        if (updated) c.emit('message-status', { ...updated, error: why });
      });
    }
  }
}

const waitsForGroupSend = (c: ClientCore, group: string) => c.run((tx) => hasGroupSendFor(tx, group), true);

/**
 * Sends the group messages some members did not get (group-sends.ts), oldest first: each one is
 * encrypted anew for the member accounts still listed that are still in the group, in an
 * operation of its own that takes each of them off once the relay took their copy. Stops at the
 * first the relay cannot take now (kept for the next flush). A member the relay refuses for good
 * is taken off (they miss that message; the others still get it); a refusal before any member's
 * copy (the sender key could not go out) drops the message's row. Each round takes at least one
 * member off or stops, so a flush ends. Returns how many member accounts were reached.
 */
export async function flushGroupSends(c: ClientCore): Promise<number> {
  let reached = 0;
  for (;;) {
    const next = await c.run(async (tx) => (await pendingGroupSends(tx))[0], true);
    if (!next) return reached;
    const progress = new GroupSendProgress();
    try {
      await c.run(async (tx) => {
        // Another flush may have sent it meanwhile.
        if ((await tx.get(next.key)) === undefined) return;
        const group = await loadGroup(tx, next.group);
        const only = next.remaining.filter((m) => m === c.name || group?.members.includes(m));
        if (!group?.active || only.length === 0) return dropGroupSend(tx, next.key);
        await deliverGroup(c, tx, next.group, next.content, { only, progress });
      });
      reached += progress.reached.size;
    } catch (err) {
      // What the relay took stands: recorded now (the operation's own record may be rolled back),
      // and the others are tried again in the next round.
      if (progress.reached.size > 0) {
        reached += progress.reached.size;
        await c.run((tx) => settleGroupSend(tx, next.group, next.content, progress));
        continue;
      }
      if (isRetryable(err)) return reached;
      const refused = progress.current;
      await c.run((tx) =>
        refused === undefined ? dropGroupSend(tx, next.key) : dropGroupTarget(tx, next.key, refused),
      );
    }
  }
}

/**
 * Sends again one of this device's texts that was not sent ("failed": refused for good, or restored
 * from a backup that could not send it): it goes back into the outbox with its id and time, as
 * "pending", and the outbox is flushed. Receivers keep one copy per message id, so a text the
 * relay did take after all is not shown twice. Photos cannot be sent again (their encrypted blob
 * is not kept once a send failed). Throws `RangeError` for any other message.
 */
export async function sendAgain(c: ClientCore, id: string): Promise<ChatMessage> {
  const updated = await c.run(async (tx) => {
    const m = await storedMessage(tx, id);
    if (!m || !m.outgoing || m.system || m.status !== 'failed' || m.attachment)
      throw new RangeError('only a text of yours that was not sent can be sent again');
    await enqueue(tx, { kind: 'text', target: targetOf(m.conversation), id, text: m.text, sentAt: m.sentAt });
    const pendingAgain = await setStatus(tx, id, 'pending');
    if (pendingAgain) c.emit('message-status', pendingAgain);
    return pendingAgain;
  });
  void flushOutbox(c).catch(() => {});
  return updated ?? (await c.run((tx) => storedMessage(tx, id), true))!;
}

/**
 * Uploads a waiting photo's kept blob (unless an earlier try already did) and commits the relay's
 * id into its entry before the message is sent, so a restart after this sends the message with the
 * same id and uploads nothing again. Returns the photo's message content.
 */
export async function uploadQueued(c: ClientCore, key: string, entry: OutboxPhoto): Promise<MessageContent> {
  let id = entry.uploaded;
  if (id === undefined) {
    const blob = await cachedBlob(c.committed, entry.pointer.digest);
    if (!blob)
      throw new AttachmentError(AttachmentErrorCode.Unavailable, 'the waiting photo was lost on this device');
    const uploaded = await uploadBlob(c.api, blob, entry.pointer.digest);
    await c.run(async (tx) => {
      if ((await tx.get(key)) === undefined) throw new Queued();
      await recordUpload(tx, key, entry, uploaded);
    });
    id = uploaded;
  }
  return { t: 'attachment', id: entry.id, attachment: { ...entry.pointer, id }, sentAt: entry.sentAt };
}

/** Thrown inside `send` to move a text into the outbox (never leaves the client). */
export class Queued extends Error {
  constructor() {
    super('queued behind the outbox');
    this.name = 'Queued';
  }
}

export function targetOf(conversation: string): OutboxTarget {
  if (conversation.startsWith('dm:')) return { kind: 'dm', contact: conversation.slice(3) };
  if (conversation.startsWith('group:')) return { kind: 'group', id: conversation.slice(6) };
  throw new RangeError('a conversation is dm:<name> or group:<id>');
}

const queuedText = (e: OutboxText): Extract<Content, { t: 'text' }> => ({
  t: 'text',
  id: e.id,
  text: e.text,
  sentAt: e.sentAt,
});

const groupText = (
  c: Extract<Content, { t: 'text' }>,
  target: OutboxTarget,
): Extract<Content, { t: 'text' }> => (target.kind === 'group' ? { ...c, group: target.id } : c);
