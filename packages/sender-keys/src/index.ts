// @e2ee-kit/sender-keys — group messaging wire-compatible with libsignal's sender keys.
// Re-exported from @e2ee-kit/core so apps need only this package (same classes, not copies): every
// error class a code of this package's \`ErrorCode\` can name, and the crypto providers.
export {
  type Address,
  type CryptoProvider,
  createPlatformProvider,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
  InProcessLockManager,
  InvalidKeyError,
  LockedOutError,
  type LockManager,
  MessageGapError,
  nobleProvider,
  type PlatformProviderOptions,
  platformProvider,
  SessionNotFoundError,
  StoreError,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WebLocksManager,
  WrongPasswordError,
} from '@e2ee-kit/core';
export {
  CHAIN_KEY_LENGTH,
  DEFAULT_ROTATION_GRACE_MS,
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  MAX_RECORD_HOLDERS_BYTES,
  MAX_RECORD_MESSAGE_KEYS,
  MAX_RETIRED_CHAINS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  SENDER_KEY_CIPHERTEXT_TYPE,
  SENDER_KEY_MESSAGE_VERSION,
  SENDER_KEY_SIGNATURE_LENGTH,
  SENDER_KEY_VERSION_BYTE,
} from './constants.js';
export type { DeliverScope } from './deliver-guard.js';
export {
  ErrorCode,
  InvalidSenderKeySessionError,
  MissingSenderKeyError,
  SenderKeyErrorCode,
} from './errors.js';
export { GroupCipher } from './group-cipher.js';
export type {
  GroupCipherOptions,
  GroupDecryptOptions,
  GroupDecryptOutcome,
  GroupMessage,
  GroupTransactionOf,
  PrepareSendOptions,
  RotationReason,
  SendPlan,
  TransactionalSenderKeyStore,
} from './group-types.js';
export { KEY_HOLDER_RECORD_TAG, KEY_HOLDER_RECORD_VERSION, KeyHolderRecord } from './holders.js';
export { SenderKeyDistributionMessage, SenderKeyMessage, SenderKeyVersionError } from './messages.js';
export { SENDER_KEY_RECORD_TAG, SENDER_KEY_RECORD_VERSION, SenderKeyRecord } from './record.js';
export type { RetiredChain } from './retired-chains.js';
export type { SenderKeyStore } from './store.js';
export { generateDistributionId, normalizeDistributionId } from './uuid.js';
