// Entry `@e2ee-kit/interop/libsignal`: the libsignal-client builds (AGPL, private package only) and a
// version-adaptive harness around them (in-memory stores, parties, bundles as raw parts).
export { lib72, lib90, lib103 } from './builds.js';
export * from './harness.js';
