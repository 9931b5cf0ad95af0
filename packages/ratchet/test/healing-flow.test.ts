// The retry-receipt flow assembled from the healing building blocks over real SessionCiphers, as an
// integrator would write it without `HealingCipher` (which runs the same flow, healing-cipher.test.ts): a wiped
// session, a restore from an older backup and a lost one-time pre-key each heal — the message that
// failed is delivered from the resend cache over a fresh session — while an old receipt cannot break
// the new session and a receiver that stays broken stops asking and shows the failure.
import { type Address, platformProvider, utf8 } from '@e2ee-kit/core';
import {
  createRetryRequest,
  currentRatchetKey,
  type EncryptedMessage,
  isRetryableDecryptError,
  PlaintextContent,
  type PreKeyBundle,
  planRetryResponse,
  ResendCache,
  RetryPolicy,
  type RetryResponsePlan,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** What travels: an encrypted message (type 2/3) or a retry receipt (type 8), with the envelope's timestamp. */
type Envelope =
  | { kind: 'message'; from: Address; timestamp: number; message: EncryptedMessage }
  | { kind: 'receipt'; from: Address; bytes: Uint8Array };

/** One device running the flow the README describes. */
class Device {
  readonly inbox: string[] = [];
  readonly shownFailures: number[] = [];
  readonly plans: RetryResponsePlan[] = [];
  private constructor(
    readonly party: TestParty,
    readonly cache: ResendCache,
    readonly policy: RetryPolicy,
    private readonly fetchBundle: (of: Address) => Promise<PreKeyBundle>,
  ) {}

  static async create(
    name: string,
    deviceId: number,
    clock: { now: number },
    bundles: Map<string, TestParty>,
  ) {
    const party = await createTestParty(name, deviceId, { provider: platformProvider });
    bundles.set(`${name}.${deviceId}`, party);
    const cache = await ResendCache.create({
      key: platformProvider.randomBytes(32),
      store: new InMemoryResendStore(),
      provider: platformProvider,
      now: () => clock.now,
    });
    const policy = new RetryPolicy({ now: () => clock.now });
    // the app's callback: a fresh bundle from the server
    const fetch = async (of: Address) => bundles.get(`${of.name}.${of.deviceId}`)!.bundle();
    return new Device(party, cache, policy, fetch);
  }

  get address(): Address {
    return this.party.address;
  }

  /** Send: encrypt, keep the plaintext in the resend cache under (recipient, timestamp). */
  async send(to: Address, body: string, timestamp: number): Promise<Envelope> {
    const cipher = this.party.cipher(to);
    if (!(await cipher.hasSession())) await cipher.initiate(await this.fetchBundle(to));
    const plaintext = utf8(body);
    const message = await cipher.encrypt(plaintext);
    await this.cache.put(to, timestamp, plaintext);
    return { kind: 'message', from: this.address, timestamp, message };
  }

  /** Receive: deliver, or answer a retryable failure with a receipt (or show it when the policy says stop). */
  async receive(e: Envelope): Promise<Envelope[]> {
    if (e.kind === 'receipt') return this.#onReceipt(e);
    try {
      const { plaintext } = await this.party.cipher(e.from).decrypt(e.message);
      this.inbox.push(text(plaintext));
      return [];
    } catch (err) {
      if (!isRetryableDecryptError(err)) throw err;
      if (!this.policy.allowRequest(e.from, e.timestamp).allowed) {
        this.shownFailures.push(e.timestamp);
        return [];
      }
      const receipt = createRetryRequest({
        type: e.message.type,
        body: e.message.body,
        timestamp: e.timestamp,
        senderDeviceId: e.from.deviceId,
      });
      return [{ kind: 'receipt', from: this.address, bytes: receipt.serialize() }];
    }
  }

  async #onReceipt(e: Extract<Envelope, { kind: 'receipt' }>): Promise<Envelope[]> {
    const request = PlaintextContent.deserialize(e.bytes).decryptionErrorMessage();
    const store = this.party.store;
    const record = await store.getSession(e.from);
    const cached = await this.cache.get(e.from, request.timestamp);
    const plan = planRetryResponse({
      request,
      localDeviceId: this.address.deviceId,
      currentRatchetKey: currentRatchetKey(record),
      hasCachedMessage: cached !== undefined,
      decision: this.policy.allowResponse(e.from, request.timestamp),
    });
    this.plans.push(plan);
    if (plan.archiveSession && record) {
      record.archiveCurrentState();
      await store.saveSession(e.from, record);
    }
    if (plan.action === 'none') return [];
    const cipher = this.party.cipher(e.from);
    if (!(await cipher.hasSession())) await cipher.initiate(await this.fetchBundle(e.from));
    const body = plan.action === 'resend' && cached ? cached.plaintext : new Uint8Array(0); // null message
    const message = await cipher.encrypt(body);
    return [{ kind: 'message', from: this.address, timestamp: request.timestamp, message }];
  }
}

/** Delivers until nothing is in flight; returns the number of envelopes delivered. */
async function run(first: Envelope[], to: (e: Envelope) => Device): Promise<number> {
  const queue = [...first];
  let n = 0;
  while (queue.length > 0) {
    const e = queue.shift() as Envelope;
    queue.push(...(await to(e).receive(e)));
    expect(++n).toBeLessThan(100);
  }
  return n;
}

async function pair() {
  const clock = { now: 1_700_000_000_000 };
  const bundles = new Map<string, TestParty>();
  const alice = await Device.create('alice', 1, clock, bundles);
  const bob = await Device.create('bob', 2, clock, bundles);
  const other = (e: Envelope) => (e.from.name === 'alice' ? bob : alice);
  let ts = clock.now;
  const talk = async (from: Device, to: Device, body: string) => {
    clock.now += 10;
    ts = clock.now;
    return run([await from.send(to.address, body, ts)], other);
  };
  // an established conversation
  await talk(alice, bob, 'hi bob');
  await talk(bob, alice, 'hi alice');
  await talk(alice, bob, 'how are you');
  expect(bob.inbox).toEqual(['hi bob', 'how are you']);
  return { alice, bob, clock, talk, other };
}

describe('retry receipts heal broken sessions', () => {
  it('a wiped session: the receipt archives the sender’s session and the message arrives again', async () => {
    const { alice, bob, talk } = await pair();
    await bob.party.store.removeSession(alice.address);
    const delivered = await talk(alice, bob, 'after the wipe');
    expect(delivered).toBe(3); // message → receipt → resend over a new session
    expect(bob.inbox.at(-1)).toBe('after the wipe');
    expect(alice.plans).toMatchObject([{ archiveSession: true, action: 'resend', reason: 'answered' }]);
    await talk(bob, alice, 'and back');
    await talk(alice, bob, 'all good');
    expect(alice.inbox.at(-1)).toBe('and back');
    expect(bob.inbox.at(-1)).toBe('all good');
    expect(bob.shownFailures).toEqual([]);
  });

  it('a restore from an older backup: Bob’s old state cannot follow, the receipt heals it', async () => {
    const { alice, bob, talk } = await pair();
    const backup = bob.party.store.snapshot();
    // two more turns: Bob's ratchet key moves past the one the backup holds
    await talk(bob, alice, 'said after the backup');
    await talk(alice, bob, 'answer to that');
    await talk(bob, alice, 'and more');
    await talk(alice, bob, 'delivered before the restore');
    bob.party.store.restore(backup);
    await talk(alice, bob, 'first message after the restore');
    expect(bob.inbox.at(-1)).toBe('first message after the restore');
    expect(alice.plans.at(-1)).toMatchObject({ archiveSession: true, action: 'resend' });
    await talk(bob, alice, 'restored bob speaks');
    expect(alice.inbox.at(-1)).toBe('restored bob speaks');
  });

  it('a lost one-time pre-key: the first message is delivered from a fresh bundle', async () => {
    const clock = { now: 1_700_000_000_000 };
    const bundles = new Map<string, TestParty>();
    const alice = await Device.create('alice', 1, clock, bundles);
    const bob = await Device.create('bob', 1, clock, bundles);
    const stale = await bob.party.bundle();
    await bob.party.store.removePreKey(stale.toParts().preKeyId as number); // e.g. a crash lost it
    await alice.party.cipher(bob.address).initiate(stale);
    const first = await alice.send(bob.address, 'hello from a stale bundle', clock.now);
    await run([first], (e) => (e.from.name === 'alice' ? bob : alice));
    expect(bob.inbox).toEqual(['hello from a stale bundle']);
    expect(alice.plans).toMatchObject([{ archiveSession: true, action: 'resend' }]);
  });

  it('an old receipt replayed later does not break the new session', async () => {
    const { alice, bob, talk } = await pair();
    await bob.party.store.removeSession(alice.address);
    // capture the receipt of the failure
    const failed = await alice.send(bob.address, 'lost once', 5_000);
    const [receipt] = await bob.receive(failed);
    await run([receipt as Envelope], (e) => (e.from.name === 'alice' ? bob : alice));
    await talk(bob, alice, 'new session works');
    const before = await alice.party.store.getSession(bob.address);
    await alice.receive(receipt as Envelope); // replayed
    expect(alice.plans.at(-1)).toMatchObject({ archiveSession: false });
    const after = await alice.party.store.getSession(bob.address);
    expect(after?.serialize()).toEqual(before?.serialize());
  });

  it('a receiver that stays broken stops asking after 5 receipts and shows the failure', async () => {
    const { alice, bob, clock } = await pair();
    const broken = bob.party.store;
    const original = broken.isTrustedIdentity.bind(broken);
    broken.isTrustedIdentity = async () => false; // every decrypt fails (UNTRUSTED_IDENTITY), for good
    clock.now += 10;
    const e = await alice.send(bob.address, 'never', clock.now);
    const delivered = await run([e], (x) => (x.from.name === 'alice' ? bob : alice));
    broken.isTrustedIdentity = original;
    expect(delivered).toBe(1 + 2 * 5); // the message, then 5 × (receipt, resend)
    expect(bob.shownFailures).toEqual([clock.now]);
    expect(bob.inbox).toEqual(['hi bob', 'how are you']);
  });
});
