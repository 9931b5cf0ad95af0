// Ratchet traffic over a store under test, next to the in-memory store: one-way steady state (Alice
// sends, Bob decrypts and delivers) and ping-pong (each message answered, so every decrypt is a DH
// ratchet step). Bob's store is the one measured; Alice stays in memory. Transactional stores decrypt
// with `deliver` (the message row commits with the session); the in-memory store without.
// Used by the store packages' benches (`bench/ratchet-traffic.bench.ts`).
import { createAddress } from '@e2ee-kit/core';
import { type ProtocolStore, SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { Bench } from 'tinybench';

export interface TrafficTarget {
  readonly name: string;
  /** Bob's protocol store; with `transaction`, messages are delivered atomically to `app`. */
  readonly protocol: ProtocolStore;
}

const BOB = createAddress('bob', 1);

async function pair(target: TrafficTarget) {
  const alice = await createTestParty('alice', 1);
  const toBob = alice.cipher(BOB);
  const fromAlice = new SessionCipher(target.protocol, alice.address);
  await fromAlice.initiate(await alice.bundle());
  await alice.cipher(BOB).decrypt(await fromAlice.encrypt(new Uint8Array(16)));
  let n = 0;
  const receive = async (wire: Awaited<ReturnType<SessionCipher['encrypt']>>) => {
    const id = n++;
    await fromAlice.decrypt(wire, {
      deliver: (m, tx) => {
        const app = (tx as { app?: { put(k: string, v: Uint8Array): Promise<void> } }).app;
        return app?.put(`message:${id}`, m.plaintext);
      },
    });
  };
  return { toBob, fromAlice, receive };
}

/** Runs the two scenarios for every target and prints ops/s with the ratio to the first target. */
export async function benchTraffic(targets: readonly TrafficTarget[], timeMs: number): Promise<void> {
  const bench = new Bench({ time: timeMs, warmupTime: Math.min(200, timeMs) });
  const plaintext = new Uint8Array(160).fill(7);
  for (const t of targets) {
    const oneWay = await pair(t);
    bench.add(`one-way  ${t.name}`, async () => {
      await oneWay.receive(await oneWay.toBob.encrypt(plaintext));
    });
    const pingPong = await pair(t);
    bench.add(`ping-pong ${t.name}`, async () => {
      await pingPong.receive(await pingPong.toBob.encrypt(plaintext));
      // Bob answers, so Alice's next message starts a new chain (a DH ratchet step on Bob's side).
      await pingPong.toBob.decrypt(await pingPong.fromAlice.encrypt(plaintext));
    });
  }
  await bench.run();
  const hz = new Map(
    bench.tasks.map((task) => [
      task.name,
      task.result?.state === 'completed' ? task.result.throughput.mean : Number.NaN,
    ]),
  );
  for (const scenario of ['one-way ', 'ping-pong']) {
    const base = hz.get(`${scenario} ${targets[0]?.name}`) ?? 0;
    for (const t of targets) {
      const v = hz.get(`${scenario} ${t.name}`) ?? 0;
      console.log(
        `${`${scenario} ${t.name}`.padEnd(40)} ${v.toFixed(0).padStart(7)} ops/s  ×${(v / base).toFixed(2)} of ${targets[0]?.name}`,
      );
    }
  }
}
