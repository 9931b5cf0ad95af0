/**
 * The README flows, once, for every runtime we claim (run.ts runs them on each): generate keys, a
 * ratchet session both ways, a group message, a safety number (digits and QR), a backup round trip.
 * Every package is imported by its published name, with the default provider (feature-detected per
 * runtime: Web Crypto where it exists, noble elsewhere), so each runtime exercises its own paths.
 *
 * Expected values are published ones: RFC 5869 A.1 (HKDF), RFC 7748 §6.1 (X25519), RFC 8032 §7.1
 * test 1 (Ed25519), FIPS 180-2 "abc" (SHA-512), and the safety number of a libsignal-generated vector
 * (the safety-number README's quick start). A mismatch throws; `runFlows` resolves to the lines the
 * runner prints, which the driver compares with `EXPECTED_LINES` (expected.ts).
 */

import { createBackup, openBackup } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import {
  defaultProvider,
  fromHex,
  fromUtf8,
  IdentityKeyPair,
  PrivateKey,
  PublicKey,
  toHex,
  utf8,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { aciIdentifier, computeSafetyNumber } from '@e2ee-kit/safety-number';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`flow check failed: ${what}`);
}

async function primitives(): Promise<string> {
  const p = defaultProvider;
  const abc = await p.sha512(utf8('abc'));
  check(
    toHex(abc) ===
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    'SHA-512("abc")',
  );
  check(toHex(p.sha512Sync(utf8('a'), utf8('bc'))) === toHex(abc), 'sha512Sync over parts');
  const okm = await p.hkdfSha256(
    new Uint8Array(22).fill(0x0b),
    fromHex('000102030405060708090a0b0c'),
    fromHex('f0f1f2f3f4f5f6f7f8f9'),
    42,
  );
  check(
    toHex(okm) === '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    'HKDF RFC 5869 A.1',
  );
  const alicePriv = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
  const bobPub = fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
  check(
    toHex(await p.x25519PublicKey(alicePriv)) ===
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    'X25519 public key RFC 7748',
  );
  check(
    toHex(await p.x25519(alicePriv, bobPub)) ===
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    'X25519 RFC 7748 §6.1',
  );
  const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
  const edPub = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
  const sig = await p.ed25519Sign(seed, new Uint8Array(0));
  check(
    toHex(sig) ===
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    'Ed25519 RFC 8032 test 1',
  );
  check(toHex(await p.ed25519PublicKey(seed)) === toHex(edPub), 'Ed25519 public key');
  check(await p.ed25519Verify(edPub, new Uint8Array(0), sig), 'Ed25519 verify');
  return 'primitives: sha512 hkdf x25519 ed25519 ok';
}

async function keys(): Promise<string> {
  const id = await IdentityKeyPair.generate(defaultProvider);
  const again = IdentityKeyPair.deserialize(id.serialize());
  check(again.publicKey.equals(id.publicKey), 'identity key pair round trip');
  check(PublicKey.deserialize(id.publicKey.serialize()).equals(id.publicKey), 'public key round trip');
  const message = utf8('a message to sign');
  const signature = xeddsaSign(PrivateKey.deserialize(id.privateKey.serialize()), message, defaultProvider);
  check(await xeddsaVerify(id.publicKey, message, signature, defaultProvider), 'xeddsa verify');
  check(!(await xeddsaVerify(id.publicKey, utf8('another'), signature, defaultProvider)), 'xeddsa refuses');
  return 'keys: identity key pair, xeddsa ok';
}

async function ratchet(): Promise<string> {
  const bob = await InMemoryProtocolStore.create();
  const bundle = await createPreKeyBundle(bob, { deviceId: 1 });
  const alice = await InMemoryProtocolStore.create();
  const toBob = new SessionCipher(alice, { name: 'bob', deviceId: 1 });
  await toBob.initiate(bundle);
  const first = await toBob.encrypt(utf8('hi Bob'));
  check(first.type === 'prekey', 'first message is a PreKey message');
  const toAlice = new SessionCipher(bob, { name: 'alice', deviceId: 1 });
  const got = fromUtf8((await toAlice.decrypt(first)).plaintext);
  const reply = await toAlice.encrypt(utf8('hi Alice'));
  check(reply.type === 'whisper', 'reply is a whisper message');
  const back = fromUtf8((await toBob.decrypt(reply)).plaintext);
  const third = fromUtf8((await toAlice.decrypt(await toBob.encrypt(utf8('again Bob')))).plaintext);
  return `ratchet: ${got} | ${back} | ${third}`;
}

async function group(): Promise<string> {
  const alice = { name: 'alice', deviceId: 1 };
  const bob = { name: 'bob', deviceId: 1 };
  const groupId = generateDistributionId();
  const aliceKeys = new GroupCipher(new InMemorySenderKeyStore());
  const bobKeys = new GroupCipher(new InMemorySenderKeyStore());
  const plan = await aliceKeys.prepareSend(alice, groupId, [bob]);
  check(plan.needsDistribution.length === 1, 'bob needs the sender key');
  await bobKeys.processDistributionMessage(alice, plan.distributionMessage.serialize());
  await aliceKeys.markDelivered(alice, groupId, plan.chainId, plan.needsDistribution);
  const wire = await aliceKeys.encrypt(alice, groupId, utf8('hello group'));
  const outcome = await new GroupCipher(new InMemorySenderKeyStore()).tryDecrypt(alice, wire);
  check(outcome.status === 'missing-sender-key', 'a device without the key is told so');
  return `group: ${fromUtf8((await bobKeys.decrypt(alice, wire)).plaintext)}`;
}

function safetyNumber(): string[] {
  const me = {
    identifier: aciIdentifier('60954b63-247d-4799-a4e5-0593cdfb54c8'),
    identityKey: fromHex('051c5fb4e9192a6366d10b02a55c70f1ba8b3e620abbe80015e42b18dd53544370'),
  };
  const contact = {
    identifier: aciIdentifier('71be0c07-68c3-49db-8faa-4cffa7f31726'),
    identityKey: fromHex('0521441e00f5d7a4a52d061ac00a9c214e58d4fdb2191dc5241b79646a9be87831'),
  };
  const mine = computeSafetyNumber({ local: me, remote: contact });
  const theirs = computeSafetyNumber({ local: contact, remote: me });
  check(mine.format({ groupsPerLine: 12 }) === theirs.format({ groupsPerLine: 12 }), 'both sides agree');
  check(mine.compare(theirs.scannable.serialize()).status === 'match', 'scanned payload matches');
  check(safetyNumberQr(mine).toSvg().startsWith('<svg'), 'QR code as SVG');
  return [`safety number: ${mine.format({ groupsPerLine: 12 })}`, 'safety number: qr svg, compare match'];
}

async function backup(): Promise<string> {
  const data = utf8('chat database: 2 messages, 1 photo (fake)');
  const password = 'correct horse battery staple';
  const { output } = await createBackup([data], { password, argon2: unsafeTestParams() });
  const encrypted = await output.bytes();
  const { plaintext } = await openBackup(encrypted, { password });
  const restored = await plaintext.bytes();
  check(toHex(restored) === toHex(data), 'backup restores the same bytes');
  return `backup: restored ${restored.length} bytes`;
}

/** Runs every flow in order, handing each line to `onLine` as it is produced (expected.ts lists them). */
export async function runFlows(onLine: (line: string) => void = () => {}): Promise<string[]> {
  const lines: string[] = [];
  const emit = (line: string) => {
    lines.push(line);
    onLine(line);
  };
  emit(await primitives());
  emit(await keys());
  emit(await ratchet());
  emit(await group());
  for (const line of safetyNumber()) emit(line);
  emit(await backup());
  return lines;
}
