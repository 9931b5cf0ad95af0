// HealingCipher against @signalapp/libsignal-client 0.103.0 and 0.90.0: the four breaks of the healing
// scenarios (a restore from an older backup, a wiped session, a lost one-time pre-key, a corrupted
// session record) on either side. The libsignal side runs Signal-Desktop's flow with libsignal's own pieces —
// `DecryptionErrorMessage.forOriginal` + `PlaintextContent.from` on a failed decrypt;
// `extractFromSerializedBody`, `SessionRecord.currentRatchetKeyMatches` + `archiveCurrentState`,
// `processPreKeyBundle` and a resend from its own send log on a receipt. Each scenario ends with every
// message sent after the break delivered exactly once, on both sides, and the session working both ways.
import { type Address, addressToString, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { type EncryptedMessage, HealingCipher, ResendCache, RetryPolicy } from '@e2ee-kit/ratchet';
import { InMemoryResendStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { type LibHandle, libs, type RawWireMessage } from '../src/libsignal.js';
import { libEndpoint, ourBundleFromRaw, ourEndpoint } from './ratchet-endpoints.js';

const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

type Wire =
  | { to: 'ours' | 'lib'; kind: 'message'; timestamp: number; message: RawWireMessage }
  | { to: 'ours' | 'lib'; kind: 'receipt'; bytes: Uint8Array };

async function setup(lib: LibHandle) {
  const L = lib.mod;
  const x3dh = lib === libs.lib72; // ours and 0.72.1 speak X3DH (version 3)
  const ours = await ourEndpoint({ provider: nodeProvider, providerLabel: 'node', deviceId: 2, x3dh });
  const theirs = libEndpoint(lib, { name: crypto.randomUUID(), deviceId: 3, storage: 'bytes', kyber: !x3dh });
  const queue: Wire[] = [];
  let clock = 1_700_000_000_000;
  type Inbox = { timestamp: number; text: string }[];
  const inbox: Record<'ours' | 'lib', Inbox> = { ours: [], lib: [] };
  const sent: { to: 'ours' | 'lib'; timestamp: number; text: string }[] = [];
  const ourAnswers: string[] = [];
  const ourResults: string[] = [];

  const healer = new HealingCipher({
    store: ours.store,
    localAddress: ours.address,
    resendCache: await ResendCache.create({
      key: nodeProvider.randomBytes(32),
      store: new InMemoryResendStore(),
      provider: nodeProvider,
      now: () => clock,
    }),
    policy: new RetryPolicy({ now: () => clock }),
    cipherOptions: { provider: nodeProvider, acceptX3dh: x3dh },
    protocolFor: () => (x3dh ? 'x3dh' : 'pqxdh'),
    fetchBundle: async () => ourBundleFromRaw(await theirs.createBundle()),
    sendRetryRequest: async (_to, bytes) => void queue.push({ to: 'lib', kind: 'receipt', bytes }),
    resend: async (_to, message: EncryptedMessage, timestamp) =>
      void queue.push({ to: 'lib', kind: 'message', timestamp, message }),
  });

  // The libsignal app: Signal-Desktop's retry flow with libsignal's pieces, a send log for resends.
  const libLog = new Map<number, Uint8Array>();
  const libAnswers = new Map<number, number>();
  const libSessionUnreadable = () => {
    const bytes = theirs.party.sessionBytes(ours.address);
    if (bytes === null) return false;
    try {
      L.SessionRecord.deserialize(ab(bytes));
      return false;
    } catch {
      return true;
    }
  };
  const app = {
    async receive(timestamp: number, message: RawWireMessage) {
      try {
        inbox.lib.push({ timestamp, text: text(await theirs.decrypt(ours.address, message)) });
      } catch {
        // The app removes a record libsignal cannot load (libsignal itself leaves that to the app).
        if (libSessionUnreadable()) theirs.party.stores.session.deleteSession(ours.address);
        const type = message.type === 'prekey' ? 3 : 2;
        const dem = L.DecryptionErrorMessage.forOriginal(ab(message.body), type, timestamp, 2);
        queue.push({ to: 'ours', kind: 'receipt', bytes: L.PlaintextContent.from(dem).serialize() });
      }
    },
    async onReceipt(bytes: Uint8Array) {
      const dem = L.DecryptionErrorMessage.extractFromSerializedBody(
        L.PlaintextContent.deserialize(ab(bytes)).body(),
      );
      const ts = dem.timestamp();
      const n = (libAnswers.get(ts) ?? 0) + 1;
      libAnswers.set(ts, n);
      if (n > 5) return; // Signal-Desktop's RETRY_LIMIT
      const current = theirs.party.sessionBytes(ours.address);
      const key = dem.ratchetKey();
      if (current !== null && key !== undefined) {
        const record = L.SessionRecord.deserialize(ab(current));
        if (record.currentRatchetKeyMatches(key)) {
          record.archiveCurrentState();
          theirs.party.restoreSession(ours.address, record.serialize());
        }
      }
      if (!(await theirs.party.hasUsableSession(ours.address)))
        await theirs.processBundle(ours.address, await ours.createBundle());
      const plaintext = libLog.get(ts);
      if (plaintext !== undefined)
        queue.push({
          to: 'ours',
          kind: 'message',
          timestamp: ts,
          message: await theirs.encrypt(ours.address, plaintext),
        });
    },
  };

  const run = async () => {
    let n = 0;
    for (let w = queue.shift(); w !== undefined; w = queue.shift()) {
      expect(++n).toBeLessThan(50);
      if (w.to === 'lib') {
        if (w.kind === 'receipt') await app.onReceipt(w.bytes);
        else await app.receive(w.timestamp, w.message);
        continue;
      }
      if (w.kind === 'receipt') {
        ourAnswers.push((await healer.onRetryRequest(theirs.address, w.bytes)).kind);
        continue;
      }
      const r = await healer.decrypt(theirs.address, w.message, { timestamp: w.timestamp });
      ourResults.push(r.kind);
      if (r.kind === 'decrypted')
        inbox.ours.push({ timestamp: w.timestamp, text: text(r.message.plaintext) });
    }
    return n;
  };

  const ourSend = async (body: string) => {
    clock += 10;
    const message = await healer.encrypt(theirs.address, utf8(body), clock);
    sent.push({ to: 'lib', timestamp: clock, text: body });
    queue.push({ to: 'lib', kind: 'message', timestamp: clock, message });
    return run();
  };
  const libSend = async (body: string) => {
    clock += 10;
    if (!(await theirs.party.hasUsableSession(ours.address)))
      await theirs.processBundle(ours.address, await ours.createBundle());
    libLog.set(clock, utf8(body));
    sent.push({ to: 'ours', timestamp: clock, text: body });
    queue.push({
      to: 'ours',
      kind: 'message',
      timestamp: clock,
      message: await theirs.encrypt(ours.address, utf8(body)),
    });
    return run();
  };
  /** Every message sent since `since`: delivered exactly once, with its text, at its receiver. */
  const allDelivered = (since: number) =>
    sent.slice(since).map((s) => {
      const got = inbox[s.to].filter((m) => m.timestamp === s.timestamp);
      return got.length === 1 && got[0]?.text === s.text ? 'delivered' : `NOT DELIVERED (${got.length})`;
    });
  const converse = async () => {
    await ourSend('ours: one');
    await libSend('lib: two');
    await ourSend('ours: three');
    await libSend('lib: four');
  };
  return { ours, theirs, sent, ourSend, libSend, allDelivered, converse, ourAnswers, ourResults, healer };
}

const corrupt = (b: Uint8Array) => b.slice(0, b.length >> 1);
const peers = [libs.lib103, libs.lib90].map((l) => [l.version, l] as const);

describe.each(peers)(
  'HealingCipher with a libsignal-client %s peer: libsignal’s side breaks',
  (_version, lib) => {
    it('libsignal restored an older backup: its receipt makes us archive, start over and resend', async () => {
      const t = await setup(lib);
      await t.converse();
      const backup = t.theirs.party.sessionBytes(t.ours.address) as Uint8Array;
      await t.converse();
      t.theirs.party.restoreSession(t.ours.address, backup);
      const since = t.sent.length;
      expect(await t.ourSend('after their restore')).toBe(3);
      await t.libSend('restored lib speaks');
      await t.ourSend('and is answered');
      expect(t.ourAnswers).toEqual(['resent']);
      expect(t.allDelivered(since)).toEqual(['delivered', 'delivered', 'delivered']);
    });

    it('libsignal wiped its session', async () => {
      const t = await setup(lib);
      await t.converse();
      t.theirs.party.stores.session.deleteSession(t.ours.address);
      const since = t.sent.length;
      await t.ourSend('after their wipe');
      await t.libSend('wiped lib speaks');
      expect(t.ourAnswers).toEqual(['resent']);
      expect(t.allDelivered(since)).toEqual(['delivered', 'delivered']);
    });

    it('libsignal lost the one-time pre-key our first message used', async () => {
      const t = await setup(lib);
      const raw = await t.theirs.createBundle();
      await t.theirs.party.stores.preKey.removePreKey(raw.preKey?.id as number);
      await t.healer
        .cipher(t.theirs.address)
        .initiate(ourBundleFromRaw(raw), { protocol: raw.kyberPreKey ? 'pqxdh' : 'x3dh' });
      await t.ourSend('to a lost pre-key');
      await t.libSend('got it');
      expect(t.ourAnswers).toEqual(['resent']);
      expect(t.allDelivered(0)).toEqual(['delivered', 'delivered']);
    });

    it('libsignal’s session record is corrupted (its app removes it and sends a receipt)', async () => {
      const t = await setup(lib);
      await t.converse();
      const bytes = t.theirs.party.sessionBytes(t.ours.address) as Uint8Array;
      t.theirs.party.restoreSession(t.ours.address, corrupt(bytes));
      const since = t.sent.length;
      await t.ourSend('after their corruption');
      await t.libSend('lib again');
      expect(t.ourAnswers).toEqual(['resent']);
      expect(t.allDelivered(since)).toEqual(['delivered', 'delivered']);
    });
  },
);

describe.each(peers)('HealingCipher with a libsignal-client %s peer: our side breaks', (_version, lib) => {
  it('we restored an older backup: our receipt names libsignal’s current key, it starts over and resends', async () => {
    const t = await setup(lib);
    await t.converse();
    const backup = t.ours.store.snapshot();
    await t.converse();
    t.ours.store.restore(backup);
    const since = t.sent.length;
    expect(await t.libSend('after our restore')).toBe(3);
    await t.ourSend('restored us speaks');
    expect(t.ourResults.slice(-2)).toEqual(['retry-requested', 'decrypted']);
    expect(t.allDelivered(since)).toEqual(['delivered', 'delivered']);
  });

  it('we wiped our session', async () => {
    const t = await setup(lib);
    await t.converse();
    await t.ours.store.removeSession(t.theirs.address);
    const since = t.sent.length;
    await t.libSend('after our wipe');
    await t.ourSend('wiped us speaks');
    expect(t.ourResults).toContain('retry-requested');
    expect(t.allDelivered(since)).toEqual(['delivered', 'delivered']);
  });

  it('we lost the one-time pre-key libsignal’s first message used', async () => {
    const t = await setup(lib);
    const raw = await t.ours.createBundle();
    await t.ours.store.removePreKey(raw.preKey?.id as number);
    await t.theirs.processBundle(t.ours.address, raw);
    await t.libSend('to our lost pre-key');
    await t.ourSend('got it');
    expect(t.ourResults).toEqual(['retry-requested', 'decrypted']);
    expect(t.allDelivered(0)).toEqual(['delivered', 'delivered']);
  });

  it('our session record is corrupted: the healer removes it and libsignal starts over', async () => {
    const t = await setup(lib);
    await t.converse();
    const snap = t.ours.store.snapshot();
    const k = `session:${addressToString(t.theirs.address as Address)}`;
    snap.set(k, corrupt(snap.get(k) as Uint8Array));
    t.ours.store.restore(snap);
    const since = t.sent.length;
    await t.libSend('after our corruption');
    await t.ourSend('we are back');
    expect(t.ourResults.slice(-2)).toEqual(['retry-requested', 'decrypted']);
    expect(t.allDelivered(since)).toEqual(['delivered', 'delivered']);
  });
});

// 0.72.1 speaks X3DH with us (its PQXDH lacks SPQR, which we, like 0.103.0, require). The app passes
// `acceptX3dh` and `protocolFor` (X3DH for this peer), its fetchBundle returns the peer's X3DH bundle;
// HealingCipher must start and restart the session with it. Failed before `protocolFor`: HealingCipher
// initiated with PQXDH only, so the first encrypt and every re-initiation threw "PQXDH needs a Kyber pre-key".
describe('HealingCipher with a libsignal-client 0.72.1 (X3DH) peer', () => {
  it('the conversation starts, and heals after libsignal wiped its session', async () => {
    const t = await setup(libs.lib72);
    await t.converse();
    t.theirs.party.stores.session.deleteSession(t.ours.address);
    await t.ourSend('after their wipe');
    await t.libSend('wiped lib speaks');
    expect(t.ourAnswers).toEqual(['resent']);
    expect(t.allDelivered(0)).toEqual(Array(6).fill('delivered'));
  });
});
