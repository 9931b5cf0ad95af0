/**
 * What the encrypted backup holds: the account's identity, its app rows, and the protocol state per
 * peer (identity key, session) and per group member (sender key, key holders), read and written
 * through the store's typed views. Because it goes through the views rather than copying database
 * rows, a backup made by the Node client (SQLite) restores in the web client (IndexedDB) and back.
 */
import { fromBase64, IdentityKeyPair, PublicKey, toBase64 } from '@e2ee-kit/core';
import { SessionRecord } from '@e2ee-kit/ratchet';
import { KeyHolderRecord, SenderKeyRecord } from '@e2ee-kit/sender-keys';
import type { KvTransaction } from '@e2ee-kit/store-kv';
import { APP_KEYS, ChatData } from './app-data.js';
import type { BackupMedia } from './backup-media.js';
import { DIRECTORY_KEYS } from './directory.js';
import { CONSENT_KEYS } from './group-consent.js';
import { outboxRowKeys } from './outbox.js';
import { messageIndexKey } from './receipts.js';
import { accessKeyOf, SEALED_KEYS } from './sealed.js';

export const BACKUP_FORMAT = 'e2ee-kit-chat-backup';
export const BACKUP_VERSION = 2;

export interface BackupDoc {
  readonly format: typeof BACKUP_FORMAT;
  readonly version: typeof BACKUP_VERSION;
  readonly name: string;
  readonly identity: { readonly keyPair: string; readonly registrationId: number };
  /** App rows (base64 values), the outbox's too; the credentials and pending ciphertexts are not carried. */
  readonly app: readonly (readonly [string, string])[];
  readonly peers: readonly { readonly name: string; readonly identity?: string; readonly session?: string }[];
  readonly senderKeys: readonly {
    readonly sender: string;
    readonly group: string;
    readonly record: string;
    readonly holders?: string;
  }[];
  /** The history's photos, encrypted as on the relay (backup-media.ts); absent in older backups. */
  readonly media?: BackupMedia;
}

interface GroupRow {
  readonly id: string;
  readonly members: readonly string[];
}

/** Reads the whole backed-up state inside one transaction (a consistent snapshot). */
export async function exportState(tx: KvTransaction, name: string, deviceId: number): Promise<BackupDoc> {
  const data = new ChatData(tx.app);
  const conversations = await data.members(APP_KEYS.conversations);
  const groupIds = await data.members(APP_KEYS.groups);
  const peers = await data.members(APP_KEYS.peers);
  const keys: string[] = [...SEALED_KEYS, APP_KEYS.conversations, APP_KEYS.groups, APP_KEYS.peers];
  keys.push(...Object.values(CONSENT_KEYS));
  // Peers are ServiceIds (the protocol's addresses); verification is kept by display name, so the
  // pinned name ↔ ServiceId binding of each peer travels too.
  for (const p of peers) {
    keys.push(accessKeyOf(p), DIRECTORY_KEYS.byAci(p));
    const peerName = await data.json<string>(DIRECTORY_KEYS.byAci(p));
    if (peerName !== undefined) keys.push(DIRECTORY_KEYS.byName(peerName), APP_KEYS.verified(peerName));
  }
  for (const c of conversations) {
    const n = (await data.json<number>(APP_KEYS.messageCount(c))) ?? 0;
    keys.push(APP_KEYS.messageCount(c));
    for (let i = 0; i < n; i++) {
      keys.push(APP_KEYS.message(c, i));
      // Where each message is, so a receipt that arrives after a restore still moves its tick.
      const id = (await data.json<{ id?: string }>(APP_KEYS.message(c, i)))?.id;
      if (id !== undefined) keys.push(messageIndexKey(id));
    }
  }
  for (const g of groupIds) keys.push(APP_KEYS.group(g), APP_KEYS.outbox(g));
  // What still waits to be sent: the restored device sends it (outbox.ts).
  keys.push(...(await outboxRowKeys(data)));
  const app: [string, string][] = [];
  for (const k of keys) {
    const v = await data.get(k);
    if (v) app.push([k, toBase64(v)]);
  }

  const peerRows = [];
  for (const p of peers) {
    const address = { name: p, deviceId };
    const identity = await tx.protocol.getIdentity(address);
    const session = await tx.protocol.getSession(address);
    peerRows.push({
      name: p,
      ...(identity ? { identity: toBase64(identity.serialize()) } : {}),
      ...(session ? { session: toBase64(session.serialize()) } : {}),
    });
  }

  const senderKeys = [];
  for (const g of groupIds) {
    const group = await data.json<GroupRow>(APP_KEYS.group(g));
    for (const member of new Set([name, ...(group?.members ?? [])])) {
      const address = { name: member, deviceId };
      const record = await tx.senderKeys.loadSenderKey(address, g);
      if (!record) continue;
      const holders = await tx.senderKeys.loadKeyHolders(address, g);
      senderKeys.push({
        sender: member,
        group: g,
        record: toBase64(record.serialize()),
        ...(holders ? { holders: toBase64(holders.serialize()) } : {}),
      });
    }
  }

  const pair = await tx.protocol.getIdentityKeyPair();
  return {
    format: BACKUP_FORMAT,
    version: BACKUP_VERSION,
    name,
    identity: {
      keyPair: toBase64(pair.serialize()),
      registrationId: await tx.protocol.getLocalRegistrationId(),
    },
    app,
    peers: peerRows,
    senderKeys,
  };
}

/** Checks the decrypted document names this account; returns its identity. */
export function checkBackupDoc(
  doc: Partial<BackupDoc> | undefined,
  name: string,
): { identityKeyPair: IdentityKeyPair; registrationId: number } {
  if (
    !doc ||
    doc.format !== BACKUP_FORMAT ||
    doc.version !== BACKUP_VERSION ||
    doc.name !== name ||
    !doc.identity ||
    !Array.isArray(doc.app) ||
    !Array.isArray(doc.peers) ||
    !Array.isArray(doc.senderKeys)
  ) {
    throw new Error('the backup does not hold this account');
  }
  return {
    identityKeyPair: IdentityKeyPair.deserialize(fromBase64(doc.identity.keyPair)),
    registrationId: doc.identity.registrationId,
  };
}

/**
 * Writes a backup's state into the (new) store. Sessions keep their old states for decrypting what
 * was already sent to us, but the current one is archived: the old device may have used later chain
 * positions after the backup, so sending starts on a new session.
 */
export async function importState(tx: KvTransaction, doc: BackupDoc, deviceId: number): Promise<void> {
  for (const [k, v] of doc.app) await tx.app.put(k, fromBase64(v));
  for (const p of doc.peers) {
    const address = { name: p.name, deviceId };
    if (p.identity) await tx.protocol.saveIdentity(address, PublicKey.deserialize(fromBase64(p.identity)));
    if (p.session) {
      const record = SessionRecord.deserialize(fromBase64(p.session));
      if (record.hasCurrentState()) record.archiveCurrentState();
      await tx.protocol.saveSession(address, record);
    }
  }
  for (const s of doc.senderKeys) {
    const address = { name: s.sender, deviceId };
    await tx.senderKeys.storeSenderKey(address, s.group, SenderKeyRecord.deserialize(fromBase64(s.record)));
    if (s.holders)
      await tx.senderKeys.storeKeyHolders(
        address,
        s.group,
        KeyHolderRecord.deserialize(fromBase64(s.holders)),
      );
  }
}
