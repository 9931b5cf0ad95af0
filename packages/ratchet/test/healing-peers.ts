// Devices running HealingCipher over a simulated server, for the healing scenario tests: every
// envelope (message, receipt, resend) is queued and delivered in order, and each device records what
// it delivered, what it gave up on and what its retry answers were — so a test can say, for every
// message sent after a break, whether it arrived or which side was told.
import { type Address, platformProvider, utf8 } from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  HealingCipher,
  type HealingDecryptResult,
  ResendCache,
  RetryPolicy,
  type RetryPolicyOptions,
  type RetryRequestResult,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import { expect } from 'vitest';

export type Wire =
  | { kind: 'message'; from: Address; to: Address; timestamp: number; message: EncryptedMessage }
  | { kind: 'receipt'; from: Address; to: Address; bytes: Uint8Array };

export interface Sent {
  readonly from: Address;
  readonly to: Address;
  readonly timestamp: number;
  readonly text: string;
}

const key = (a: Address) => `${a.name}.${a.deviceId}`;

export class Peer {
  /** Delivered plaintexts, with the timestamp of the envelope they came in. */
  readonly inbox: { timestamp: number; text: string }[] = [];
  readonly decrypts: HealingDecryptResult[] = [];
  readonly answers: RetryRequestResult[] = [];

  constructor(
    readonly party: TestParty,
    readonly healer: HealingCipher,
    readonly cache: ResendCache,
  ) {}

  get address(): Address {
    return this.party.address;
  }
}

export class Net {
  readonly queue: Wire[] = [];
  readonly peers = new Map<string, Peer>();
  readonly sent: Sent[] = [];
  /** Receiver side of each gave-up: (from, timestamp). */
  readonly gaveUp: { from: Address; to: Address; timestamp: number }[] = [];
  delivered = 0;
  readonly clock = { now: 1_700_000_000_000 };

  async add(name: string, deviceId: number, policy: RetryPolicyOptions = {}): Promise<Peer> {
    const party = await createTestParty(name, deviceId, { provider: platformProvider });
    const cache = await ResendCache.create({
      key: platformProvider.randomBytes(32),
      store: new InMemoryResendStore(),
      provider: platformProvider,
      now: () => this.clock.now,
    });
    const healer = new HealingCipher({
      store: party.store,
      localAddress: party.address,
      resendCache: cache,
      policy: new RetryPolicy({ now: () => this.clock.now, ...policy }),
      cipherOptions: { provider: platformProvider, now: () => this.clock.now },
      fetchBundle: async (of) => this.peer(of).party.bundle(), // the server hands out a fresh bundle
      sendRetryRequest: async (to, bytes) => {
        this.queue.push({ kind: 'receipt', from: party.address, to, bytes });
      },
      resend: async (to, message, timestamp) => {
        this.queue.push({ kind: 'message', from: party.address, to, timestamp, message });
      },
    });
    const peer = new Peer(party, healer, cache);
    this.peers.set(key(party.address), peer);
    return peer;
  }

  peer(a: Address): Peer {
    const p = this.peers.get(key(a));
    if (!p) throw new Error(`no peer ${key(a)}`);
    return p;
  }

  /** Encrypts and queues one message (the clock moves 10 ms; that is its timestamp). */
  async send(from: Peer, to: Peer, text: string): Promise<number> {
    this.clock.now += 10;
    const timestamp = this.clock.now;
    const message = await from.healer.encrypt(to.address, utf8(text), timestamp);
    this.queue.push({ kind: 'message', from: from.address, to: to.address, timestamp, message });
    this.sent.push({ from: from.address, to: to.address, timestamp, text });
    return timestamp;
  }

  /** Delivers until nothing is in flight (at most `limit` envelopes); returns how many went. */
  async run(limit = 200): Promise<number> {
    let n = 0;
    while (this.queue.length > 0) {
      const w = this.queue.shift() as Wire;
      expect(++n, 'envelopes delivered').toBeLessThanOrEqual(limit);
      this.delivered++;
      const to = this.peer(w.to);
      if (w.kind === 'receipt') {
        to.answers.push(await to.healer.onRetryRequest(w.from, w.bytes));
        continue;
      }
      const r = await to.healer.decrypt(w.from, w.message, { timestamp: w.timestamp });
      to.decrypts.push(r);
      if (r.kind === 'decrypted')
        to.inbox.push({ timestamp: w.timestamp, text: new TextDecoder().decode(r.message.plaintext) });
      if (r.kind === 'gave-up') this.gaveUp.push({ from: w.from, to: w.to, timestamp: w.timestamp });
    }
    return n;
  }

  /** Sends and delivers one message; returns the envelopes it took. */
  async talk(from: Peer, to: Peer, text: string): Promise<number> {
    await this.send(from, to, text);
    return this.run();
  }

  /**
   * For each message sent since `since` (an index into `sent`): `'delivered'` (exactly once),
   * `'receiver-told'` (it gave up on it) or `'sender-told'` (an answer other than a resend named it);
   * `'LOST'` otherwise — what no test may ever see.
   */
  outcomes(since: number): string[] {
    return this.sent.slice(since).map((s) => {
      const to = this.peer(s.to);
      const from = this.peer(s.from);
      const got = to.inbox.filter((m) => m.timestamp === s.timestamp);
      if (got.length === 1 && got[0]?.text === s.text) return 'delivered';
      if (got.length > 1) return 'DUPLICATED';
      if (this.gaveUp.some((g) => key(g.to) === key(s.to) && g.timestamp === s.timestamp))
        return 'receiver-told';
      if (from.answers.some((a) => a.kind !== 'resent' && a.timestamp === s.timestamp)) return 'sender-told';
      return 'LOST';
    });
  }
}

/** Alice (device 1) and Bob (device 2) with a conversation going both ways. */
export async function conversation(policy: RetryPolicyOptions = {}) {
  const net = new Net();
  const alice = await net.add('alice', 1, policy);
  const bob = await net.add('bob', 2, policy);
  await net.talk(alice, bob, 'hi bob');
  await net.talk(bob, alice, 'hi alice');
  await net.talk(alice, bob, 'how are you');
  expect(net.outcomes(0)).toEqual(['delivered', 'delivered', 'delivered']);
  return { net, alice, bob };
}
