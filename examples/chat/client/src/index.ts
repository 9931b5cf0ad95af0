/** @e2ee-kit/chat-client: one device of the chat example, for Node and browsers (no node: imports). */
export {
  type BundleJson,
  type DirectoryEntryJson,
  type Envelope,
  type EnvelopeKind,
  type FetchLike,
  RelayApi,
  RelayError,
  type WebSocketFactory,
  type WebSocketLike,
} from './api.js';
export {
  AttachmentError,
  AttachmentErrorCode,
  type AttachmentPointer,
  MAX_ATTACHMENT_BYTES,
} from './attachments.js';
export { attemptPolicy } from './backup-attempts.js';
export { BackupLimitError, MAX_BACKUP_ARGON2 } from './backup-limits.js';
export { MAX_BACKUP_MEDIA_BYTES } from './backup-media.js';
export { ChatClient } from './client.js';
export { type Content, decodeContent, encodeContent, type GroupInfo } from './content.js';
export {
  DeviceError,
  DeviceSender,
  LINK_URI,
  LinkRequest,
  type ProvisionedAccount,
  type SentCopy,
} from './devices.js';
export { DirectoryMismatchError } from './directory.js';
export {
  type AddDecision,
  checkWhoCanAddMe,
  DEFAULT_WHO_CAN_ADD_ME,
  INVITATION_LIFETIME_MS,
  type Invitation,
  InvitationError,
  type InvitationErrorCode,
  mayAdd,
  type WhoCanAddMe,
} from './group-consent.js';
export { RetryReceipts, type RetryStats } from './healing.js';
export {
  isRetryable,
  MAX_OUTBOX,
  MAX_OUTBOX_PHOTO_BYTES,
  MAX_OUTBOX_PHOTOS,
  type OutboxEntry,
  type OutboxPhoto,
  type OutboxTarget,
  type OutboxText,
} from './outbox.js';
export type { PhotoMeta } from './photos.js';
export { advanceStatus, type ReceiptKind } from './receipts.js';
export {
  type BackupInfo,
  type BackupOptions,
  type BackupResult,
  type BackupUnlock,
  type ChatClientOptions,
  type ChatEvents,
  type ChatMessage,
  DEVICE_ID,
  type DeliveryStatus,
  type Group,
  type GroupSentInfo,
  type SafetyNumberView,
  type SentInfo,
  type StoreOpener,
} from './types.js';
