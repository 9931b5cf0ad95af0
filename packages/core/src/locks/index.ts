export { InProcessLockManager, isLockManager, type LockManager } from './lock-manager.js';
export { type WebLocksLike, WebLocksManager, type WebLocksManagerOptions } from './web-locks.js';
