/**
 * Backups: create one (the whole client state and the history's photos, encrypted; slots stored
 * apart from the payload), change its password (only new slots are uploaded), and restore it on a
 * new device (a new registration with the restored identity, sessions and sender keys reset so no
 * chain position is reused).
 */
import {
  type BackupMetadata,
  createBackup,
  joinBackupFile,
  openBackup,
  type RecoveryKey,
  changeBackupPassword as rewrapBackup,
  splitBackupFile,
} from '@e2ee-kit/backup-kdf';
import { constantTimeEqual, resolveProvider } from '@e2ee-kit/core';
import { RelayApi } from './api.js';
import { APP_KEYS, ChatData, jsonBytes, parseJsonBytes } from './app-data.js';
import { attemptPolicy } from './backup-attempts.js';
import { checkBackupArgon2, checkDownloadedBackup, MAX_BACKUP_ARGON2 } from './backup-limits.js';
import { collectMedia, historyPhotos, importMedia, MAX_BACKUP_MEDIA_BYTES } from './backup-media.js';
import { type BackupDoc, checkBackupDoc, exportState, importState } from './backup-state.js';
import type { ClientCore, StoreHooks } from './core.js';
import { listGroups } from './groups.js';
import { enroll, openStore } from './lifecycle.js';
import { settleRestoredOutbox, waitingPhotoDigests } from './outbox.js';
import {
  address,
  type BackupInfo,
  type BackupOptions,
  type BackupResult,
  type BackupUnlock,
  type ChatClientOptions,
  DEVICE_ID,
} from './types.js';

/** This device's last backup (kept on this device only; not part of a backup). */
export const BACKUP_INFO = 'local:backup-info';

/** Encrypts the whole client state and uploads it (payload and slot section stored separately). */
export async function backup(c: ClientCore, options: BackupOptions): Promise<BackupResult> {
  // A backup this app could not restore is refused up front (restore enforces the same limit).
  checkBackupArgon2(options.argon2);
  // The photos' encrypted bytes travel with the history (backup-media.ts); fetched before the
  // store operation, so the downloads hold no lock.
  const data = c.committed;
  const limit = Math.min(c.backupMediaBytes, MAX_BACKUP_MEDIA_BYTES);
  // Photos still waiting in the outbox come first: the relay has no copy of them yet, and the
  // restored device must upload them from the backup's.
  const waiting = await waitingPhotoDigests(data);
  const photos = (await historyPhotos(data)).sort(
    (a, b) => Number(waiting.has(b.digest)) - Number(waiting.has(a.digest)),
  );
  const { media, leftOut } = await collectMedia(data, c.api, c.provider, photos, limit);
  return c.run(async () => {
    const doc: BackupDoc = { ...(await exportState(c.txn, c.name, DEVICE_ID)), media };
    const plain = jsonBytes(doc);
    const created = await createBackup(plain, {
      ...(options.password !== undefined ? { password: options.password } : {}),
      ...(options.recoveryKey ? { recoveryKey: true } : {}),
      ...(options.argon2 ? { argon2: options.argon2 } : {}),
      provider: c.provider,
    });
    const file = await created.output.bytes();
    created.keyring.destroy();
    // The slot section (wrapped keys) is stored apart from the encrypted body, so a password
    // change uploads only new slots and the body bytes stay as they are.
    const { slots, body } = splitBackupFile(file);
    await c.api.putBackup(slots, body);
    const info: BackupInfo = {
      createdAt: c.now(),
      withPassword: options.password !== undefined,
      withRecoveryKey: options.recoveryKey === true,
    };
    await c.data.putJson(BACKUP_INFO, info);
    return {
      recoveryKey: (created.recoveryKey as RecoveryKey | undefined)?.toDisplayString(),
      slotsBytes: slots.length,
      payloadBytes: body.length,
      photos: media.length,
      photosLeftOut: leftOut,
    };
  });
}

/** The last backup this device created, if any (a new backup replaces it and its key). */
export async function backupInfo(c: ClientCore): Promise<BackupInfo | undefined> {
  return c.committed.json<BackupInfo>(BACKUP_INFO);
}

/**
 * Changes the backup's password: downloads the stored backup, unlocks it with `current` (the old
 * password or the 64-digit key; wrong tries count against this device's lockout), re-wraps its key
 * under `newPassword` and uploads only the new slot section. The encrypted payload on the relay is
 * not re-uploaded, and a 64-digit key keeps working.
 */
export async function changeBackupPassword(
  c: ClientCore,
  current: BackupUnlock,
  newPassword: string,
): Promise<{ slotsBytes: number }> {
  // Unlocked outside a store operation: the attempt counter commits on its own, so a wrong
  // password still counts (the operation below would roll it back).
  const stored = await c.api.getBackup(c.name);
  const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
  await checkDownloadedBackup(file);
  const changed = await rewrapBackup(file, unlockWith(current), newPassword, {
    attempts: attemptPolicy(c.store.backupAttempts, c.now),
    provider: c.provider,
  });
  const out = await changed.output.bytes();
  changed.keyring.destroy();
  const { slots, body } = splitBackupFile(out);
  // The payload bytes are the same by construction; checked, since only the slots are uploaded.
  if (!constantTimeEqual(body, stored.payload)) throw new Error('password change altered the payload');
  // Only onto the slots this change read: a backup uploaded meanwhile keeps its own (409 otherwise).
  await c.api.putBackupSlots(slots, await c.provider.sha256(stored.slots));
  await c.run(async (tx) => {
    const info = await tx.json<BackupInfo>(BACKUP_INFO);
    await tx.putJson(BACKUP_INFO, {
      withRecoveryKey: false,
      createdAt: c.now(),
      ...info,
      withPassword: true,
    });
  });
  return { slotsBytes: slots.length };
}

export async function resetAfterRestore(c: ClientCore): Promise<void> {
  await c.run(async () => {
    // Own sender keys: a new chain per group (the old device may have used later iterations).
    // Sessions were archived by the import: sending starts new ones.
    for (const g of await listGroups(c)) {
      if (g.active) await c.groupCipher.rotate(address(c.name, c.deviceId), g.id);
    }
  });
}

/**
 * Restores an account on a new device: downloads the backup (authorised by the recovery code),
 * decrypts it with the password or the 64-digit key, re-registers the account with the restored
 * identity and fresh prekeys, and resets sessions and sender keys so the conversation continues
 * without reusing any chain position the old device might have used after the backup.
 */
export async function restore(
  name: string,
  recoveryCode: string,
  unlock: BackupUnlock,
  options: ChatClientOptions,
): Promise<{ core: ClientCore; metadata: BackupMetadata }> {
  const api = new RelayApi(options.serverUrl, options.fetch ? { fetch: options.fetch } : {});
  const stored = await api.getBackup(name, recoveryCode);
  const file = joinBackupFile({ body: stored.payload, slots: stored.slots });
  await checkDownloadedBackup(file);
  const opened = await openBackup(
    file,
    'password' in unlock ? { password: unlock.password } : { recoveryKey: unlock.recoveryKey },
    {
      ...(options.provider ? { provider: options.provider } : {}),
      maxArgon2MemoryKiB: MAX_BACKUP_ARGON2.memoryKiB,
      // Wrong tries are counted on this device (see `ChatClientOptions.backupAttempts`).
      ...(options.backupAttempts ? { attempts: attemptPolicy(options.backupAttempts, options.now) } : {}),
    },
  );
  const plain = await opened.plaintext.bytes();
  opened.keyring.destroy();
  const doc = parseJsonBytes<BackupDoc>(plain);
  const identity = checkBackupDoc(doc, name);
  // The store is created with the backed-up identity; one that already has another is refused.
  const hooks: StoreHooks = {};
  const store = await openStore(options, hooks, identity);
  const pair = await store.protocol.getIdentityKeyPair();
  if (
    !pair.publicKey.equals(identity.identityKeyPair.publicKey) ||
    (await store.app.get(APP_KEYS.credentials)) !== undefined
  ) {
    throw new Error('restore needs an empty store: this one already holds an account');
  }
  await store.transaction(async (tx) => {
    await importState(tx, doc as BackupDoc, DEVICE_ID);
    // The history's photos, checked against its digests (the relay may have forgotten them).
    const data = new ChatData(tx.app);
    await importMedia(data, (doc as BackupDoc).media, resolveProvider(options.provider));
    // What waited in the outbox is sent by this device once it connects; what cannot be is "failed".
    await settleRestoredOutbox(data);
  });
  const client = await enroll(name, store, hooks, options, recoveryCode);
  await resetAfterRestore(client);
  return { core: client, metadata: opened.metadata };
}

const unlockWith = (u: BackupUnlock) =>
  'password' in u ? { password: u.password } : { recoveryKey: u.recoveryKey };
