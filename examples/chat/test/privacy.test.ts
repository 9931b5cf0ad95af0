import { readFileSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StoreOpener } from '@e2ee-kit/chat-client';
import { IdentityKeyPair } from '@e2ee-kit/core';
import { KyberPreKeyRecord, PreKeyRecord, SignedPreKeyRecord } from '@e2ee-kit/ratchet';
import { KvStore, type KvWrite } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runStory, type StoryFacts } from '../scripts/story.js';

/** A store backend that remembers every value ever committed, so rows deleted later are searched too. */
class RecordingBackend extends MemoryKvBackend {
  readonly history: [string, Uint8Array][] = [];
  override async commit(writes: readonly KvWrite[]): Promise<void> {
    for (const w of writes) if (w.value) this.history.push([`${w.table}/${w.key}`, w.value.slice()]);
    await super.commit(writes);
  }
}

function privateKeysIn(history: [string, Uint8Array][]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const [row, value] of history) {
    if (row === 'meta/identity_key_pair') out.push(IdentityKeyPair.deserialize(value).privateKey.serialize());
    else if (row.startsWith('prekey/'))
      out.push(PreKeyRecord.deserialize(value).keyPair.privateKey.serialize());
    else if (row.startsWith('signed_prekey/'))
      out.push(SignedPreKeyRecord.deserialize(value).keyPair.privateKey.serialize());
    else if (row.startsWith('kyber_prekey/'))
      out.push(KyberPreKeyRecord.deserialize(value).keyPair.secretKey.serialize());
  }
  return out;
}

interface EnvelopeInsert {
  from: string;
  fromDevice: number;
  to: string;
  type: string;
  body: Buffer;
}

/** One run of the story for both tests: client stores recorded, every envelope row ever inserted. */
const storages: RecordingBackend[] = [];
const lines: string[] = [];
const rows: EnvelopeInsert[] = [];
let facts: StoryFacts;
beforeAll(async () => {
  facts = await runStory({
    keepFiles: true,
    makeStore: (): StoreOpener => {
      const backend = new RecordingBackend();
      storages.push(backend);
      return (options) => KvStore.open(backend, options);
    },
    reporter: { step: () => {}, server: () => {}, client: (_w, l) => lines.push(l) },
    // A trigger reports each insert, so rows deleted once acknowledged are searched too.
    onRelay: (relay) => {
      relay.store.db.function('record_envelope', (from, dev, to, type, body) => {
        rows.push({
          from: from as string,
          fromDevice: dev as number,
          to: to as string,
          type: type as string,
          body: Buffer.from(body as Uint8Array),
        });
        return null;
      });
      relay.store.db.exec(`CREATE TEMP TRIGGER watch_envelopes AFTER INSERT ON main.envelopes BEGIN
        SELECT record_envelope(NEW.from_aci, NEW.from_device, NEW.to_aci, NEW.type, NEW.body); END`);
    },
  });
}, 120_000);
afterAll(() => {
  if (facts) rmSync(dirname(facts.dbPath), { recursive: true, force: true });
});

it('the relay never holds a plaintext, a private key, the backup password, a token or a recovery secret', async () => {
  const db = readFileSync(facts.dbPath);
  let wal = Buffer.alloc(0);
  try {
    wal = readFileSync(`${facts.dbPath}-wal`);
  } catch {
    // checkpointed and truncated on close
  }
  const log = readFileSync(facts.logPath);
  expect(db.length).toBeGreaterThan(10_000);
  expect(log.toString()).toContain('"event":"messages.queued"');
  const haystacks = { db, wal, log };

  const secrets: [string, Buffer][] = [];
  for (const t of facts.plaintexts) secrets.push([`plaintext "${t}"`, Buffer.from(t)]);
  secrets.push(['backup password', Buffer.from(facts.backupPassword)]);
  const keyLine = lines.find((l) => l.startsWith('writes down the 64-digit key: '));
  expect(keyLine).toBeDefined();
  const digits = keyLine!.slice('writes down the 64-digit key: '.length).replace(/ /g, '');
  expect(digits).toMatch(/^\d{64}$/);
  secrets.push(['64-digit backup key', Buffer.from(digits)]);
  // Device tokens and recovery codes: the relay keeps only their SHA-256.
  const credentials = storages.flatMap((s) =>
    s.history
      .filter(([k]) => k === 'app/local:credentials')
      .map(([, v]) => JSON.parse(Buffer.from(v).toString()) as { token: string; recoveryCode: string }),
  );
  expect(credentials.length).toBeGreaterThanOrEqual(5);
  for (const c of credentials) {
    secrets.push(['device token', Buffer.from(c.token)]);
    secrets.push(['recovery code', Buffer.from(c.recoveryCode)]);
  }
  const keys = storages.flatMap((s) => privateKeysIn(s.history));
  // identity + signed + last resort + 20 + 20 one-time per registration, five registrations at least
  expect(keys.length).toBeGreaterThan(200);
  for (const [i, k] of keys.entries()) {
    secrets.push([`private key #${i}`, Buffer.from(k)]);
    secrets.push([`private key #${i} (base64)`, Buffer.from(Buffer.from(k).toString('base64'))]);
  }
  // Sanity checks of the search itself: the extracted keys are in the clients' bytes, and public
  // material is in the relay's.
  const aliceHistory = Buffer.concat(storages[0]!.history.map(([, v]) => Buffer.from(v)));
  expect(aliceHistory.includes(Buffer.from(keys[0]!))).toBe(true);
  expect(db.includes(Buffer.from('alice'))).toBe(true);

  const found = [];
  for (const [what, needle] of secrets) {
    for (const [where, hay] of Object.entries(haystacks))
      if (hay.includes(needle)) found.push(`${what} in ${where}`);
  }
  expect(found).toEqual([]);
});

it('sealed messages: no row of the envelopes table and no log line names their sender', async () => {
  const sealed = rows.filter((r) => r.type === 'sealed');
  const identified = rows.filter((r) => r.type !== 'sealed');
  // 1:1 and group traffic after the first contact goes sealed; only first messages (which carry
  // the profile key the access key derives from) go identified.
  expect(sealed.length).toBeGreaterThan(identified.length);
  expect(sealed.length).toBeGreaterThanOrEqual(8);
  const credentials = storages.flatMap((s) =>
    s.history
      .filter(([k]) => k === 'app/local:credentials')
      .map(([, v]) => JSON.parse(Buffer.from(v).toString()) as { aci: string; name: string; token: string }),
  );
  const names = [...new Set(credentials.map((c) => c.name))];
  expect(names).toEqual(expect.arrayContaining(['alice', 'bob', 'carol']));
  for (const r of sealed) {
    expect([r.from, r.fromDevice]).toEqual(['', 0]);
    for (const n of names) expect(r.body.includes(Buffer.from(n))).toBe(false);
    for (const c of credentials) expect(r.body.includes(Buffer.from(c.token))).toBe(false);
    for (const c of credentials) expect(r.body.includes(Buffer.from(c.aci))).toBe(false);
  }
  // The log: sealed submissions are logged with their recipient, count and size only.
  const log = readFileSync(facts.logPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const sealedQueued = log.filter((l) => l.event === 'sealed.queued');
  expect(sealedQueued.length).toBe(sealed.length);
  for (const l of sealedQueued)
    expect(Object.keys(l).sort()).toEqual(['bytes', 'count', 'event', 'level', 'recipient', 't']);
  const sealedHttp = log.filter((l) => l.event === 'http' && l.route === 'send-sealed');
  expect(sealedHttp.length).toBe(sealed.length);
  for (const l of sealedHttp) {
    expect(Object.keys(l).sort()).toEqual([
      'event',
      'level',
      'method',
      'ms',
      'responseBytes',
      'route',
      'status',
      't',
    ]);
  }
  // Tokens appear nowhere in the log, names only as a recipient or an authenticated account.
  const text = readFileSync(facts.logPath, 'utf8');
  for (const c of credentials) expect(text.includes(c.token)).toBe(false);
});
