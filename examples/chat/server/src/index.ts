/** @e2ee-kit/chat-server: the relay of the chat example. It only ever sees public keys and ciphertext. */

export { type BlobLimits, DEFAULT_BLOB_LIMITS } from './blobs.js';
export { SENDER_CERTIFICATE_LIFETIME_MS } from './certificates.js';
export { type Bundle, type DeviceKeys, RelayStore, type StoreLimits } from './db.js';
export { CloseCode, WS_PATH } from './delivery.js';
export { DEFAULT_LIMITS, type RelayLimits } from './limits.js';
export { createLogger, type Logger, type LoggerOptions, type LogLevel, silentLogger } from './log.js';
export { ENVELOPE_TYPES, type EnvelopeType } from './messages.js';
export { DEFAULT_PROVISIONING_LIMITS, type ProvisioningLimits } from './provisioning.js';
export { type Relay, type RelayOptions, startRelay } from './relay.js';
export { ACCESS_KEY_LENGTH, DEFAULT_SEALED_LIMITS, SEALED_KIND, type SealedLimits } from './sealed.js';
