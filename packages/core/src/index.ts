// @e2ee-kit/core — shared base of the e2ee-kit packages. Apps normally use the feature packages.
export {
  type Address,
  addressEquals,
  addressToString,
  createAddress,
  MAX_DEVICE_ID,
  validateAddress,
} from './address.js';
export {
  assertBytes,
  concatBytes,
  constantTimeEqual,
  copyBytes,
  fromBase64,
  fromHex,
  fromUtf8,
  toBase64,
  toHex,
  utf8,
  wipe,
} from './bytes.js';
export {
  type CoreErrorCode,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
  type E2eeErrorOptions,
  ErrorCode,
  InvalidKeyError,
  LockedOutError,
  MessageGapError,
  SessionNotFoundError,
  StoreError,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WrongPasswordError,
} from './errors.js';
export {
  type Direction,
  type IdentityBackend,
  type IdentityChange,
  type IdentityChangeEvent,
  type IdentityEntry,
  type IdentityKeyStore,
  KeyValueIdentityKeyStore,
  type KeyValueIdentityKeyStoreOptions,
  type SaveIdentityOptions,
  type TrustPolicy,
} from './identity.js';
export {
  generateKemKeyPair,
  KEM_CIPHERTEXT_LENGTH,
  KEM_PUBLIC_KEY_LENGTH,
  KEM_SECRET_KEY_LENGTH,
  KEM_SHARED_SECRET_LENGTH,
  type KemEncapsulation,
  type KemKeyPair,
  KemPublicKey,
  KemSecretKey,
  KemType,
  kemDecapsulate,
  kemEncapsulate,
} from './kem.js';
export {
  DJB_TYPE,
  IdentityKeyPair,
  KeyPair,
  PRIVATE_KEY_LENGTH,
  PrivateKey,
  PUBLIC_KEY_LENGTH,
  PublicKey,
} from './keys.js';
export {
  DELIVER_WAIT_LIMIT_MS,
  type DeliverScope,
  type DeliveryState,
  deliverRefusal,
  InProcessLockManager,
  isLockManager,
  type LockManager,
  type RunningDelivery,
  runDeliver,
  runGuarded,
  type WebLocksLike,
  WebLocksManager,
  type WebLocksManagerOptions,
} from './locks/index.js';
export { KeyedMutex } from './mutex.js';
export {
  brandClass,
  hasBrand,
  ownValue,
  type ReadOtherCopyOptions,
  readOtherCopy,
  type ValueClass,
} from './other-copy.js';
export {
  decodeVarint,
  encodeVarint,
  type FieldHeader,
  ProtoReader,
  ProtoWriter,
  WireType,
} from './protobuf.js';
export { defaultProvider, isCryptoProvider, resolveProvider } from './provider/default.js';
export { defaultSha512IterateSync, defaultSha512Sync } from './provider/default-sha512.js';
export { defaultProviderWithoutAead } from './provider/default-without-aead.js';
export { nobleProvider } from './provider/noble.js';
export {
  createPlatformProvider,
  type PlatformProviderOptions,
  type PlatformSupport,
  platformProvider,
} from './provider/platform.js';
export { overrideProvider, withRandom } from './provider/random.js';
export type { CryptoProvider } from './provider/types.js';
export { type RedactionLabel, redact, SecretBytes } from './redact.js';
export { generateRegistrationId, validateRegistrationId } from './registration-id.js';
export { SIGNATURE_LENGTH, xeddsaSign, xeddsaVerify } from './xeddsa.js';
export { ChainWalkYielder, yieldToEventLoop } from './yielding.js';
