// Entry `@e2ee-kit/interop/rivals`: rival libraries for the benchmarks (private package only).
export { LibsignalJsParty, type LibsignalJsPartyOptions, libsignalJs } from './libsignal-js.js';
