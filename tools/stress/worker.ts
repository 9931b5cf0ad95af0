// One stress run on one provider, in its own process (tools/stress/run.ts starts it under a watchdog).
// Prints `progress <phase> <done>` lines as it goes and `done <phase> <n>` at the end of each phase;
// a frozen process prints nothing, which is how the parent tells a hang from slowness.
//
// Usage: tsx --tsconfig tsconfig.json tools/stress/worker.ts <provider label> <generations> <messages>
import { KeyPair } from '@e2ee-kit/core';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { allProviders } from '../providers.js';
import { FREEZE_SELF_TEST } from './self-test.js';

const [label, generationsArg, messagesArg] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

// The watchdog's own test (run.ts --self-test): freeze the way the Node 20 deadlock does — the thread
// blocks, no timer or callback can run — after one progress report.
if (label === FREEZE_SELF_TEST) {
  say('progress freeze 1');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
}
const entry = allProviders.find((p) => p.label === label);
if (!entry)
  throw new Error(`unknown provider ${label}; known: ${allProviders.map((p) => p.label).join(', ')}`);
const provider = entry.provider;
const generations = Number(generationsArg);
const messages = Number(messagesArg);
if (!Number.isSafeInteger(generations) || !Number.isSafeInteger(messages) || generations < 0 || messages < 0)
  throw new Error('generations and messages must be non-negative integers');

async function keyGenerations(n: number): Promise<void> {
  let previous = await KeyPair.generate(provider);
  for (let i = 1; i <= n; i++) {
    const next = await KeyPair.generate(provider);
    // Now and then use the keys, so imported-key caches and their key objects churn as in a ratchet.
    if (i % 500 === 0) {
      const ab = await next.privateKey.agree(previous.publicKey, provider);
      const ba = await previous.privateKey.agree(next.publicKey, provider);
      if (ab.some((b, j) => b !== ba[j])) throw new Error(`agreement mismatch after ${i} generations`);
    }
    previous = next;
    if (i % 1000 === 0) say(`progress keygen ${i}`);
  }
  say(`done keygen ${n}`);
}

async function pingPong(n: number): Promise<void> {
  const alice = await createTestParty('alice', 1, { provider });
  const bob = await createTestParty('bob', 1, { provider });
  const ab = alice.cipher(bob);
  const ba = bob.cipher(alice);
  await ab.initiate(await bob.bundle());
  const payload = new Uint8Array(200);
  for (let i = 0; i < n; i++) {
    payload[0] = i & 0xff;
    payload[1] = (i >>> 8) & 0xff;
    const [from, to] = i % 2 === 0 ? [ab, ba] : [ba, ab];
    const { plaintext } = await to.decrypt(await from.encrypt(payload));
    if (plaintext.length !== payload.length || plaintext.some((b, j) => b !== payload[j]))
      throw new Error(`message ${i} decrypted to different bytes`);
    if ((i + 1) % 200 === 0) say(`progress pingpong ${i + 1}`);
  }
  say(`done pingpong ${n}`);
}

await keyGenerations(generations);
await pingPong(messages);
