/**
 * The scripted story of the demo (and of its integration test): Alice, Bob and Carol, headless, on a
 * relay that only ever stores ciphertext. Each step reports what the relay stored next to what the
 * clients read. Returns the facts the integration test asserts on.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import {
  ChatClient,
  type ChatClientOptions,
  type ChatClient as Client,
  type Envelope,
  type StoreOpener,
} from '@e2ee-kit/chat-client';
import { createLogger, type Relay, startRelay } from '@e2ee-kit/chat-server';
import { E2eeError } from '@e2ee-kit/core';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import WebSocket from 'ws';

export interface Reporter {
  step(title: string): void;
  server(line: string): void;
  client(who: string, line: string): void;
}

export interface StoryFacts {
  readonly plaintexts: string[];
  readonly bobReadInOrder: string[];
  readonly outOfOrderDelivery: number[];
  readonly groupCiphertextIdentical: boolean;
  readonly carolRead: string[];
  readonly carolAfterRemoval: string;
  readonly rotationAfterRemoval: string | undefined;
  readonly safetyNumberAlice: string;
  readonly safetyNumberBob: string;
  readonly firstVerification: string;
  readonly afterReinstall: string;
  readonly sendBlockedUntilReverified: boolean;
  readonly reverification: string;
  readonly bobReadFromRestored: string;
  readonly restoredReadQueued: string;
  readonly safetyNumberUnchangedAfterRestore: boolean;
  readonly wrongPasswordRefused: boolean;
  readonly plaintextHitsInDatabase: number;
  readonly dbPath: string;
  readonly logPath: string;
  /** Every client's store opener (the privacy test extracts every private key from them). */
  readonly stores: StoreOpener[];
  readonly backupPassword: string;
}

const short = (b: Uint8Array) => {
  const s = Buffer.from(b).toString('base64');
  return s.length <= 28 ? s : `${s.slice(0, 16)}…${s.slice(-8)}`;
};
const pad = (s: string, n: number) => s.padEnd(n);

export interface StoryOptions {
  readonly reporter: Reporter;
  /** Keep the database and log for inspection (the privacy test reads them); default: delete. */
  readonly keepFiles?: boolean;
  /** The store of each client (default: a SQLite file per client in the story's data directory). */
  readonly makeStore?: (who: string) => StoreOpener;
  /** Called once the relay runs (the privacy test watches every envelope row inserted). */
  readonly onRelay?: (relay: Relay) => void;
}

export async function runStory({
  reporter: r,
  keepFiles = false,
  makeStore,
  onRelay,
}: StoryOptions): Promise<StoryFacts> {
  const dir = mkdtempSync(join(tmpdir(), 'e2ee-chat-demo-'));
  const dbPath = join(dir, 'relay.db');
  const logPath = join(dir, 'relay.log');
  const logLines: string[] = [];
  const relay: Relay = await startRelay({
    dbPath,
    logger: createLogger({ write: (line) => logLines.push(line) }),
  });
  onRelay?.(relay);
  const plaintexts: string[] = [];
  const clients: Client[] = [];
  const stores: StoreOpener[] = [];
  const databases: Database.Database[] = [];
  const sqliteStore = (who: string): StoreOpener => {
    const db = new Database(join(dir, `${who}.sqlite`));
    databases.push(db);
    return (options) => SqliteStore.open(db, options);
  };
  const opts = (who = 'client'): ChatClientOptions => {
    const store = makeStore?.(who) ?? sqliteStore(who);
    stores.push(store);
    // Each step shows the envelopes it stored; receipts (one more small ciphertext per text) are
    // left out of the story so those listings stay readable (the client tests cover them).
    return {
      serverUrl: relay.url,
      webSocket: (url) => new WebSocket(url) as never,
      store,
      receipts: false,
    };
  };
  let seen = 0;
  /** Envelopes the relay stored since the last look (read from its database). */
  const stored = (): Envelope[] => {
    const rows = relay.store.db
      .prepare(
        'SELECT id, from_aci, from_device, to_aci, type, body, server_ts FROM envelopes WHERE id > ? ORDER BY id',
      )
      .all(seen) as { id: number; from_aci: string; to_aci: string; type: string; body: Buffer }[];
    if (rows.length > 0) seen = rows[rows.length - 1]!.id;
    // The relay addresses by ServiceId; the story prints the display names its directory holds.
    const nameOf = (aci: string) => relay.store.account(aci)?.name ?? aci;
    return rows.map((row) => {
      r.server(
        `${pad(`${row.from_aci ? nameOf(row.from_aci) : '(sealed)'} → ${nameOf(row.to_aci)}`, 14)} ${pad(row.type, 9)} ${String(row.body.length).padStart(5)} B  ${short(row.body)}`,
      );
      return {
        id: row.id,
        from: row.from_aci,
        fromDevice: 1,
        kind: row.type as Envelope['kind'],
        body: new Uint8Array(row.body),
        serverTimestamp: 0,
      };
    });
  };
  const say = async (from: Client, to: string, text: string) => {
    plaintexts.push(text);
    await from.sendText(to, text);
  };
  const read = async (who: Client, reorder?: (e: Envelope[]) => Envelope[]) => {
    const got = await who.syncOnce(reorder);
    for (const m of got)
      r.client(
        who.name,
        m.system
          ? `(${m.text})`
          : `reads ${m.conversation.startsWith('group:') ? '[group] ' : ''}"${m.text}" from ${m.from}`,
      );
    return got;
  };

  try {
    // 1 ------------------------------------------------------------------------------------------
    r.step('1. Alice, Bob and Carol register: only public keys go to the relay');
    const alice = await ChatClient.register('alice', opts('alice'));
    let bob = await ChatClient.register('bob', opts('bob'));
    const carol = await ChatClient.register('carol', opts('carol'));
    clients.push(alice, bob, carol);
    for (const c of [alice, bob, carol]) {
      const counts = await c.api.preKeyStatus();
      r.server(
        `${pad(c.name, 6)} identity ${short(c.identityKey.serialize())}, ${counts.preKeys} one-time EC + ${counts.kyberPreKeys} Kyber prekeys`,
      );
    }

    // 2 ------------------------------------------------------------------------------------------
    r.step('2. 1:1 chat (PQXDH + Double Ratchet)');
    await say(alice, 'bob', 'Hi Bob, it is Alice. Lunch on Friday?');
    stored();
    await read(bob);
    await say(bob, 'alice', 'Friday works. The usual place?');
    stored();
    await read(alice);

    // 3 ------------------------------------------------------------------------------------------
    r.step('3. Out-of-order delivery: three messages arrive last-first');
    for (const t of ['one: the usual place', 'two: at noon', 'three: bring the map'])
      await say(alice, 'bob', t);
    const outOfOrder = stored();
    const deliveredOrder: number[] = [];
    const got = await read(bob, (envs) => {
      const rev = [...envs].reverse();
      deliveredOrder.push(...rev.map((e) => outOfOrder.findIndex((o) => o.id === e.id) + 1));
      return rev;
    });
    r.client('bob', `delivery order was ${deliveredOrder.join(', ')}; all decrypted (skipped message keys)`);

    // 4 ------------------------------------------------------------------------------------------
    r.step('4. A group of three (sender keys; distribution messages over the 1:1 sessions)');
    // Only contacts may add someone to a group without an invitation (the default privacy setting).
    for (const member of [bob, carol]) {
      await member.addContact('alice');
      r.client(member.name, 'added alice as a contact (so her group add joins directly)');
    }
    const group = await alice.createGroup('Friday lunch', ['bob', 'carol']);
    stored();
    await read(bob);
    await read(carol);
    plaintexts.push('Table for three at noon!');
    const first = await alice.sendGroupText(group.id, 'Table for three at noon!');
    const groupEnvs = stored();
    // Sealed sender seals the one sender-key ciphertext separately for each member, so the relay's
    // copies differ; what was encrypted once is what the client handed to the sealing layer.
    const sealedCopies = groupEnvs.filter((e) => e.kind === 'sealed').length;
    const senderKeyEnvs = first.envelopes.filter((e) => e.kind === 'senderkey');
    const identical =
      sealedCopies === 2 &&
      senderKeyEnvs.length === 2 &&
      Buffer.from(senderKeyEnvs[0]!.body).equals(Buffer.from(senderKeyEnvs[1]!.body));
    r.server(
      `the group message was encrypted once: ${senderKeyEnvs.length} copies, identical bytes: ${identical}, ${sealedCopies} sealed per member` +
        (first.distributedTo.length ? ` (key sent first to ${first.distributedTo.join(', ')})` : ''),
    );
    await read(bob);
    const carolGot = await read(carol);
    plaintexts.push('I will book it.');
    await bob.sendGroupText(group.id, 'I will book it.');
    stored();
    await read(alice);
    carolGot.push(...(await read(carol)));

    // 5 ------------------------------------------------------------------------------------------
    r.step('5. Carol is removed; she cannot read what follows');
    await alice.removeMember(group.id, 'carol');
    stored();
    await read(bob);
    await read(carol);
    plaintexts.push('Just the two of us now.');
    const after = await alice.sendGroupText(group.id, 'Just the two of us now.');
    r.client('alice', `sender key rotated before sending: ${after.rotation ?? 'no'}`);
    const afterEnvs = stored();
    // Sealed, the relay holds only envelopes sealed to Bob; Carol is handed the inner ciphertext.
    const leaked = (afterEnvs.find((e) => e.kind === 'senderkey') ??
      after.envelopes.find((e) => e.kind === 'senderkey'))!;
    const carolTry = await carol.inspectGroupCiphertext('alice', leaked.body);
    const carolResult = carolTry.readable ? `READ "${carolTry.text}"` : `cannot read it: ${carolTry.reason}`;
    r.client('carol', `is handed the ciphertext anyway (as a hostile relay could): ${carolResult}`);
    await read(bob);

    // 6 ------------------------------------------------------------------------------------------
    r.step('6. Safety numbers: matching, then a mismatch after Bob re-installs');
    const snA = await alice.safetyNumber('bob');
    const snB = await bob.safetyNumber('alice');
    r.client('alice', `sees  ${snA.groups.join(' ')}`);
    r.client('bob', `sees  ${snB.groups.join(' ')}`);
    const firstCheck = await alice.verifySafetyNumber('bob', snB.payload);
    r.client('alice', `scans Bob's QR code: ${firstCheck.status} → Bob is verified`);
    const bobCode = await bob.recoveryCode();
    bob = await ChatClient.register('bob', { ...opts('bob-reinstalled'), recoveryCode: bobCode });
    clients.push(bob);
    r.client('bob', 're-installs the app: new identity key, same account');
    const newBobKey = bob.identityKey.serialize();
    r.server(`bob's identity is now ${short(newBobKey)}`);
    await say(bob, 'alice', 'New phone, who dis?');
    stored();
    // Bob's new screen; Alice scans it before reading his message, so she compares it with the
    // number she verified for his old key.
    const bobNewView = await bob.safetyNumber('alice');
    const mismatch = (await alice.verifySafetyNumber('bob', bobNewView.payload)).status;
    r.client('alice', `scans Bob's new QR code against the number she verified: ${mismatch}`);
    await read(alice);
    let blocked = false;
    try {
      await alice.sendText('bob', 'Is that really you?');
    } catch (err) {
      blocked = E2eeError.is(err);
      r.client('alice', `sending is blocked until she verifies again (${(err as E2eeError).code})`);
    }
    const second = await alice.verifySafetyNumber('bob', bobNewView.payload);
    r.client('alice', `meets Bob, scans his new QR code: ${second.status} → verified again`);
    await say(alice, 'bob', 'Verified, welcome back.');
    stored();
    await read(bob);

    // 7 ------------------------------------------------------------------------------------------
    r.step("7. Alice's encrypted backup, restored on a new phone that continues the conversation");
    const backupPassword = 'correct horse battery staple';
    const backup = await alice.backup({
      password: backupPassword,
      recoveryKey: true,
      argon2: MIN_ARGON2_PARAMS,
    });
    const row = relay.store.getBackup(alice.aci)!;
    r.server(
      `backup body ${backup.payloadBytes} B  ${short(row.payload)}; slot section ${backup.slotsBytes} B (stored apart)`,
    );
    r.client('alice', `writes down the 64-digit key: ${backup.recoveryKey}`);
    const aliceCode = await alice.recoveryCode();
    const aliceSn = (await alice.safetyNumber('bob')).digits;
    plaintexts.push('Are you still there?');
    await bob.sendText('alice', 'Are you still there?');
    stored();
    r.client('alice', 'loses her phone before reading it');
    let wrongRefused = false;
    try {
      await ChatClient.restore(
        'alice',
        aliceCode,
        { password: 'not my password' },
        opts('alice-wrong-password'),
      );
    } catch (err) {
      wrongRefused = E2eeError.is(err);
      r.client('alice', `new phone, wrong password: refused (${(err as E2eeError).code})`);
    }
    const restored = await ChatClient.restore(
      'alice',
      aliceCode,
      { password: backupPassword },
      opts('alice-restored'),
    );
    const newAlice = restored.client;
    clients.push(newAlice);
    r.client(
      'alice',
      `new phone, right password: restored (Argon2id m=${MIN_ARGON2_PARAMS.memoryKiB / 1024} MiB, t=${MIN_ARGON2_PARAMS.iterations}, p=${MIN_ARGON2_PARAMS.parallelism})`,
    );
    const queued = await read(newAlice);
    await say(newAlice, 'bob', 'Still here, on a new phone.');
    stored();
    const bobGot = await read(bob);
    const sameSn = (await newAlice.safetyNumber('bob')).digits === aliceSn;
    r.client('alice', `safety number with Bob unchanged after the restore: ${sameSn}`);

    // 8 ------------------------------------------------------------------------------------------
    r.step('8. What the relay holds');
    relay.store.db.pragma('wal_checkpoint(PASSIVE)');
    const dbBytes = Buffer.concat([readFileSync(dbPath), readWal(dbPath)]);
    const hits = plaintexts.filter((t) => dbBytes.includes(Buffer.from(t))).length;
    r.server(
      `${plaintexts.length} plaintexts searched in ${dbBytes.length} bytes of database: ${hits} found`,
    );
    // Sealed sender: the first message to a contact goes identified (it carries the profile key the
    // contact derives our access key from); after that the relay is not told who sends.
    for (const [who, c] of [
      ['alice', alice],
      ['bob', bob],
      ['carol', carol],
      ['alice (restored)', newAlice],
    ] as const) {
      const { sealed, unsealed } = c.sealed.stats;
      r.client(
        who,
        `sent ${sealed} messages sealed (no sender for the relay), ${unsealed} identified (no access key yet)`,
      );
    }

    return {
      plaintexts,
      bobReadInOrder: got.map((m) => m.text),
      outOfOrderDelivery: deliveredOrder,
      groupCiphertextIdentical: identical,
      carolRead: carolGot.filter((m) => !m.system).map((m) => m.text),
      carolAfterRemoval: carolResult,
      rotationAfterRemoval: after.rotation,
      safetyNumberAlice: snA.digits,
      safetyNumberBob: snB.digits,
      firstVerification: firstCheck.status,
      afterReinstall: mismatch,
      sendBlockedUntilReverified: blocked,
      reverification: second.status,
      bobReadFromRestored: bobGot.map((m) => m.text).join(' | '),
      restoredReadQueued: queued.map((m) => m.text).join(' | '),
      safetyNumberUnchangedAfterRestore: sameSn,
      wrongPasswordRefused: wrongRefused,
      plaintextHitsInDatabase: hits,
      dbPath,
      logPath,
      stores,
      backupPassword,
    };
  } finally {
    for (const c of clients) c.disconnect();
    await relay.close();
    for (const db of databases) db.close();
    if (keepFiles) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(logPath, logLines.join(''));
    } else {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

function readWal(dbPath: string): Buffer {
  try {
    return readFileSync(`${dbPath}-wal`);
  } catch {
    return Buffer.alloc(0);
  }
}
