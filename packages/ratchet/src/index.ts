// @e2ee-kit/ratchet — pairwise sessions wire-compatible with libsignal (PQXDH, X3DH, Double Ratchet).

// Re-exported from @e2ee-kit/core so apps need only this package (same classes, not copies): keys,
// identity store, every error class a code of this package's `ErrorCode` can name, the crypto providers.
export {
  type Address,
  type CryptoProvider,
  createAddress,
  createPlatformProvider,
  DecodeError,
  type Direction,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
  generateRegistrationId,
  type IdentityBackend,
  type IdentityChange,
  type IdentityChangeEvent,
  IdentityKeyPair,
  type IdentityKeyStore,
  InProcessLockManager,
  InvalidKeyError,
  KemPublicKey,
  KeyPair,
  KeyValueIdentityKeyStore,
  type KeyValueIdentityKeyStoreOptions,
  LockedOutError,
  type LockManager,
  MessageGapError,
  nobleProvider,
  type PlatformProviderOptions,
  PrivateKey,
  PublicKey,
  platformProvider,
  SessionNotFoundError,
  StoreError,
  type TrustPolicy,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WebLocksManager,
  WrongPasswordError,
} from '@e2ee-kit/core';
export { PreKeyBundle, type PreKeyBundleBytes, type PreKeyBundleParts } from './bundle.js';
export {
  ARCHIVED_STATES_MAX_LENGTH,
  CiphertextMessageType,
  MAX_FORWARD_JUMPS,
  MAX_LAST_RESORT_USES,
  MAX_MESSAGE_KEYS,
  MAX_RECEIVER_CHAINS,
  MAX_RETIRED_PRE_KEYS,
  MAX_UNACKNOWLEDGED_SESSION_AGE_MS,
  SESSION_VERSION_PQXDH,
  SESSION_VERSION_X3DH,
} from './constants.js';
export type { DeliverScope } from './deliver-guard.js';
export {
  checkDeviceMismatch,
  type DeviceListStore,
  type DeviceMismatch,
  type DeviceMismatchPlan,
  InMemoryDeviceListStore,
  parseDeviceMismatch,
  planDeviceMismatch,
} from './devices/device-list.js';
export {
  type AccountSendResult,
  type Delivery,
  type DeliveryAnswer,
  type DeviceChange,
  type DeviceChangeResult,
  DeviceFanout,
  type DeviceMessage,
  FanoutIncompleteError,
  type FanoutOptions,
  type FanoutSendOptions,
  type FanoutSendResult,
  IdentityChangedError,
  type KeyHolderChange,
} from './devices/fan-out.js';
export {
  DeviceLinkRequest,
  formatLinkDeviceUri,
  type LinkUriOptions,
  parseLinkDeviceUri,
} from './devices/link-device.js';
export {
  decodeProvisionEnvelope,
  encodeProvisionEnvelope,
  PROVISIONING_VERSION_CURRENT,
  type ProvisionEnvelope,
  ProvisionMessage,
  type ProvisionMessageFields,
} from './devices/provision-message.js';
export {
  decryptProvisionEnvelope,
  encryptProvisionMessage,
  MAX_PROVISION_ENVELOPE_LENGTH,
  PROVISIONING_CIPHER_VERSION,
} from './devices/provisioning-cipher.js';
export { ErrorCode, type PreKeyKind, PreKeyNotFoundError, RatchetErrorCode } from './errors.js';
export {
  DecryptionErrorMessage,
  type DecryptionErrorMessageFields,
  FailedMessageType,
  MAX_DECRYPTION_ERROR_MESSAGE_LENGTH,
} from './healing/decryption-error-message.js';
export {
  type EnvelopeInfo,
  HealingCipher,
  type HealingCipherOptions,
  type HealingDecryptResult,
  type RetryRequestResult,
} from './healing/healing-cipher.js';
export {
  MAX_PLAINTEXT_CONTENT_LENGTH,
  PLAINTEXT_CONTENT_IDENTIFIER_BYTE,
  PlaintextContent,
} from './healing/plaintext-content.js';
export {
  type CachedMessage,
  RESEND_CACHE_DEFAULTS,
  ResendCache,
  type ResendCacheOptions,
  type ResendStore,
  type ResendStoreChange,
  type ResendStoreEntry,
} from './healing/resend-cache.js';
export {
  createRetryRequest,
  currentRatchetKey,
  type FailedMessage,
  isRetryableDecryptError,
  planRetryResponse,
  type RetryResponseInput,
  type RetryResponsePlan,
} from './healing/retry-flow.js';
export {
  RETRY_POLICY_DEFAULTS,
  type RetryDecision,
  type RetryDenial,
  RetryPolicy,
  type RetryPolicyOptions,
} from './healing/retry-policy.js';
export { type CreatePreKeyBundleOptions, createPreKeyBundle } from './prekey-bundle.js';
export {
  type GenerateOptions,
  generateKyberPreKey,
  generatePreKeys,
  generateSignedPreKey,
} from './prekey-generation.js';
export {
  PreKeyManager,
  type PreKeyManagerOptions,
  type PreKeyStatus,
  type PreKeyUpload,
} from './prekeys.js';
export { ARCHIVED_SKIPPED_KEYS_MAX, ARCHIVED_STATES_MAX_BYTES } from './records/archive-caps.js';
export { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
export { PreKeyRecord } from './records/prekey-record.js';
export { type PreKeyStateFields, PreKeyStateRecord, type RetiredKey } from './records/prekey-state-record.js';
export { SessionRecord } from './records/session-record.js';
export { SignedPreKeyRecord } from './records/signed-prekey-record.js';
export {
  type ArchiveOptions,
  type DecryptedMessage,
  type DecryptOptions,
  type EncryptedMessage,
  type InitiateOptions,
  type MessageIdentityChange,
  messageTypeFromNumber,
  messageTypeToNumber,
  SessionCipher,
  type SessionCipherOptions,
  type WireMessageType,
} from './session-cipher.js';
export { SpqrErrorCode } from './spqr/errors.js';
export { SPQR_BRAID_STEP_COST } from './spqr/ratchet.js';
export {
  assertProtocolStore,
  type KyberPreKeyStore,
  type PreKeyStateStore,
  type PreKeyStore,
  type ProtocolStore,
  type ProtocolTransaction,
  type SessionStore,
  type SignedPreKeyStore,
  type TransactionOf,
} from './stores.js';
export {
  PreKeySignalMessage,
  type PreKeySignalMessageFields,
  SignalMessage,
  type SignalMessageFields,
} from './wire.js';
export { DECRYPT_WORK_BUDGET, SELF_SESSION_MAX_FORWARD_JUMPS } from './work-budget.js';
