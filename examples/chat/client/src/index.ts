/** @e2ee-kit/chat-client: one device of the chat example, for Node and browsers (no node: imports). */
export {
  type BundleJson,
  type Envelope,
  type EnvelopeKind,
  type FetchLike,
  RelayApi,
  RelayError,
  type WebSocketFactory,
  type WebSocketLike,
} from './api.js';
export {
  ATTACHMENT_TYPES,
  AttachmentError,
  type AttachmentPointer,
  type AttachmentType,
  decryptAttachment,
  encryptAttachment,
  MAX_ATTACHMENT_BYTES,
  paddedSize,
} from './attachments.js';
export { ATTEMPTS_PREFIX, attemptPolicy } from './backup-attempts.js';
export {
  type BackupInfo,
  type BackupOptions,
  type BackupResult,
  type BackupUnlock,
  ChatClient,
  type ChatClientOptions,
  type ChatEvents,
  type ChatMessage,
  DEVICE_ID,
  type DeliveryStatus,
  type Group,
  type GroupSentInfo,
  type SafetyNumberView,
  type SentInfo,
} from './client.js';
export { type Content, decodeContent, encodeContent, type GroupInfo } from './content.js';
export { isRetryable, MAX_OUTBOX, type OutboxEntry, type OutboxTarget } from './outbox.js';
export { advanceStatus, type ReceiptKind } from './receipts.js';
export { type ChatStorage, MemoryStorage, Transaction } from './storage.js';
