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
  type StoreOpener,
} from './client.js';
export { type Content, decodeContent, encodeContent, type GroupInfo } from './content.js';
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
