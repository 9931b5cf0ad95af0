export {
  DELIVER_WAIT_LIMIT_MS,
  type DeliverScope,
  type DeliveryState,
  deliverRefusal,
  type RunningDelivery,
  runDeliver,
  runGuarded,
} from './deliver-guard.js';
export { InProcessLockManager, isLockManager, type LockManager } from './lock-manager.js';
export { type WebLocksLike, WebLocksManager, type WebLocksManagerOptions } from './web-locks.js';
