// @e2ee-kit/store-kv — every e2ee-kit store, with transactions and at-rest encryption, over any
// database that can commit a batch of (table, key, bytes) writes atomically.
export { type KvBackend, type KvWrite, sameRow, TABLES, type Table } from './backend.js';
export type { Codec, RatchetCodecs, SenderKeyCodecs } from './codecs.js';
export { ErrorCode, StoreErrorCode } from './errors.js';
export { KvStore, type KvStoreOptions, type KvTransaction, STORE_FORMAT_VERSION } from './kv-store.js';
export { MAX_VALUE_BYTES, valueTooLong } from './limits.js';
export type { IdentityOptions, ProtocolView } from './protocol-view.js';
export type { AppView, AttemptView, ResendView, SenderKeyView } from './views.js';
