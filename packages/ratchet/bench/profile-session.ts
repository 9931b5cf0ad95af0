// Profiling driver (not a benchmark): runs one scenario on one provider in a loop so that
// `node --cpu-prof --import tsx bench/profile-session.ts` shows where the time goes.
// PROFILE_SCENARIO=oneway|pingpong|setup|skip (decrypt message #PROFILE_SKIP, default 1000, from a saved record)|forged
// (reject the bench's forged SignalMessage: counter 24,999, fresh ratchet key), PROFILE_PROVIDER=node|platform|noble, PROFILE_N=iterations timed
// after PROFILE_WARMUP untimed ones (default 0).
import { nobleProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { forgedSignalMessage } from '../test/forgery.js';

const scenario = process.env['PROFILE_SCENARIO'] ?? 'oneway';
const providers = { node: nodeProvider, platform: platformProvider, noble: nobleProvider };
const provider = providers[(process.env['PROFILE_PROVIDER'] ?? 'node') as keyof typeof providers];
const n = Number(process.env['PROFILE_N'] ?? 5000);
const payload = new Uint8Array(200).fill(7);

async function pair() {
  const a = await createTestParty(`a${Math.random()}`, 1, { provider });
  const b = await createTestParty(`b${Math.random()}`, 1, { provider });
  const ab = a.cipher(b);
  const ba = b.cipher(a);
  return { a, b, ab, ba };
}

async function main(): Promise<void> {
  const warmup = Number(process.env['PROFILE_WARMUP'] ?? 0);
  let t0 = process.cpuUsage();
  if (scenario === 'setup') {
    for (let i = 0; i < warmup + n; i++) {
      if (i === warmup) t0 = process.cpuUsage();
      const { b, ab, ba } = await pair();
      await ab.initiate(await b.bundle());
      await ba.decrypt(await ab.encrypt(payload));
    }
  } else if (scenario === 'skip') {
    const skip = Number(process.env['PROFILE_SKIP'] ?? 1000);
    const { a, b, ab, ba } = await pair();
    await ab.initiate(await b.bundle());
    await ba.decrypt(await ab.encrypt(payload));
    await ab.decrypt(await ba.encrypt(payload));
    for (let i = 0; i < skip; i++) await ab.encrypt(payload);
    const target = await ab.encrypt(payload);
    const saved = await b.store.getSession(a.address);
    for (let i = 0; i < warmup + n; i++) {
      if (i === warmup) t0 = process.cpuUsage();
      if (saved) await b.store.saveSession(a.address, saved);
      await ba.decrypt(target);
    }
  } else if (scenario === 'forged') {
    const { b, ab, ba } = await pair();
    await ab.initiate(await b.bundle());
    await ba.decrypt(await ab.encrypt(payload));
    const forged = await forgedSignalMessage(provider);
    for (let i = 0; i < warmup + n; i++) {
      if (i === warmup) t0 = process.cpuUsage();
      const refused = await ba.decrypt({ type: 'whisper', body: forged.serializedView }).then(
        () => false,
        (e: unknown) => {
          if (i === 0) console.log(`refused: ${String(e)}`);
          return true;
        },
      );
      if (!refused) throw new Error('a forged message was accepted');
    }
  } else {
    const { b, ab, ba } = await pair();
    await ab.initiate(await b.bundle());
    await ba.decrypt(await ab.encrypt(payload));
    await ab.decrypt(await ba.encrypt(payload));
    for (let i = 0; i < warmup + n; i++) {
      if (i === warmup) t0 = process.cpuUsage();
      await ba.decrypt(await ab.encrypt(payload));
      if (scenario === 'pingpong') await ab.decrypt(await ba.encrypt(payload));
    }
  }
  const cpu = process.cpuUsage(t0);
  console.log(`${scenario} ${n}: ${((cpu.user + cpu.system) / n).toFixed(1)} µs CPU per iteration`);
}
await main();
