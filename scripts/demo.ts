// Interim terminal demo of what exists today (replaced by the chat example's demo when it lands).
import {
  generateKemKeyPair,
  IdentityKeyPair,
  kemDecapsulate,
  kemEncapsulate,
  platformProvider as provider,
  toHex,
  utf8,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';

const short = (b: Uint8Array) => `${toHex(b).slice(0, 24)}… (${b.length} B)`;

const alice = await IdentityKeyPair.generate(provider);
const bob = await IdentityKeyPair.generate(provider);
console.log('1. Alice and Bob each create a Curve25519 identity key (libsignal format 0x05 ‖ u):');
console.log(`   Alice ${short(alice.publicKey.serialize())}\n   Bob   ${short(bob.publicKey.serialize())}`);

const msg = utf8('Alice signs her signed pre-key');
const sig = xeddsaSign(alice.privateKey, msg, provider);
console.log(`2. XEdDSA signature as libsignal makes it: ${short(sig)}`);
console.log(`   Bob verifies it: ${await xeddsaVerify(alice.publicKey, msg, sig, provider)}`);
sig[10] = (sig[10] as number) ^ 1;
console.log(`   ...and a signature with one flipped bit: ${await xeddsaVerify(alice.publicKey, msg, sig, provider)}`);

const ab = await alice.privateKey.agree(bob.publicKey, provider);
const ba = await bob.privateKey.agree(alice.publicKey, provider);
console.log(`3. X25519 agreement, both sides: ${toHex(ab) === toHex(ba) ? 'equal' : 'DIFFERENT'} (${short(ab)})`);

const kem = generateKemKeyPair(provider);
const enc = kemEncapsulate(kem.publicKey, provider);
const dec = kemDecapsulate(enc.ciphertext, kem.secretKey);
console.log(`4. Kyber-1024 (libsignal type 0x08) ciphertext ${short(enc.ciphertext)}`);
console.log(`   shared secrets match: ${toHex(enc.sharedSecret) === toHex(dec)}`);
console.log('Demo finished.');
