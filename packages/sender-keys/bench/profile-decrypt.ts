// Profiling driver (not a benchmark): sender-key encrypt and decrypt in a loop on one provider, so that
// `node --cpu-prof --import tsx bench/profile-decrypt.ts` shows where the time goes.
// PROFILE_PROVIDER=node|platform|noble, PROFILE_N=messages (default 3000).
import { randomUUID } from 'node:crypto';
import { createAddress, nobleProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';

const providers = { node: nodeProvider, platform: platformProvider, noble: nobleProvider };
const provider = providers[(process.env['PROFILE_PROVIDER'] ?? 'node') as keyof typeof providers];
const n = Number(process.env['PROFILE_N'] ?? 3000);
const alice = createAddress('alice', 1);
const d = randomUUID();
const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider });
const receiver = new GroupCipher(new InMemorySenderKeyStore(), { provider });
await receiver.processDistributionMessage(alice, await sender.createDistributionMessage(alice, d));
const plaintext = new Uint8Array(200).fill(7);
let enc = 0;
let dec = 0;
for (let i = 0; i < n; i++) {
  let t = process.cpuUsage();
  const wire = await sender.encrypt(alice, d, plaintext);
  let u = process.cpuUsage(t);
  enc += u.user + u.system;
  t = process.cpuUsage();
  await receiver.decrypt(alice, wire);
  u = process.cpuUsage(t);
  dec += u.user + u.system;
}
console.log(`encrypt ${(enc / n).toFixed(1)} µs, decrypt ${(dec / n).toFixed(1)} µs CPU per message`);
