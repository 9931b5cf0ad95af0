// What tools/runtimes/flows.ts prints on every runtime, in order (then `DONE_LINE`). The safety number
// is the one libsignal computes for the vector in the safety-number README.
export const EXPECTED_LINES: readonly string[] = [
  'primitives: sha512 hkdf x25519 ed25519 ok',
  'keys: identity key pair, xeddsa ok',
  'ratchet: hi Bob | hi Alice | again Bob',
  'group: hello group',
  'safety number: 28209 38464 34185 33414 38418 39354 47363 38359 49266 06375 47477 83306',
  'safety number: qr svg, compare match',
  'backup: restored 41 bytes',
];

export const DONE_LINE = 'flows: done';
