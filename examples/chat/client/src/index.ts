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
  type BackupOptions,
  type BackupResult,
  type BackupUnlock,
  ChatClient,
  type ChatClientOptions,
  type ChatEvents,
  type ChatMessage,
  DEVICE_ID,
  type Group,
  type GroupSentInfo,
  type SafetyNumberView,
  type SentInfo,
} from './client.js';
export { type Content, decodeContent, encodeContent, type GroupInfo } from './content.js';
export {
  DeviceError,
  DeviceSender,
  LINK_URI,
  LinkRequest,
  type ProvisionedAccount,
  type SentCopy,
} from './devices.js';
export { RetryReceipts, type RetryStats } from './healing.js';
export { type ChatStorage, MemoryStorage, Transaction } from './storage.js';
