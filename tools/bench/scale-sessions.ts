// Scale row: N sessions in one in-memory store (ours: InMemoryProtocolStore, which keeps serialized
// records; libsignal-client: the interop harness's bytes store). Per session: open (process one
// peer bundle, PQXDH) + encrypt a 200-byte first message. The same bundle serves every address, so
// no peer key generation is timed. Memory per session = live heap + ArrayBuffers after a GC, before
// vs after, ÷ N (ciphers are not kept: what remains is the store's content).
import { createAddress } from '@e2ee-kit/core';
import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { LibsignalParty, libs } from '../../interop/src/libsignal.js';
import { emitRows, LIBSIGNAL_CLIENT, type PackageRow } from './emit.js';
import { kib, liveBytes, scaleProviders, sizes, timed } from './measure.js';

const PAYLOAD = new Uint8Array(200).fill(0x61);
const peerAddress = (i: number) => createAddress(`peer-${i}`, 1);

interface Side {
  readonly impl: string;
  readonly provider?: string;
  /** A fresh store; returns open+encrypt for one address and the record size for that address. */
  create(): Promise<{ open(i: number): Promise<void>; recordBytes(i: number): Promise<number> }>;
}

const sides: Side[] = [
  ...scaleProviders.map(
    ([label, provider]): Side => ({
      impl: 'e2ee-kit',
      provider: label,
      async create() {
        const peer = await InMemoryProtocolStore.create({ provider });
        const bundle = await createPreKeyBundle(peer, { deviceId: 1, provider });
        const store = await InMemoryProtocolStore.create({ provider });
        return {
          async open(i) {
            const cipher = new SessionCipher(store, peerAddress(i), { provider });
            await cipher.initiate(bundle);
            await cipher.encrypt(PAYLOAD);
          },
          async recordBytes(i) {
            return (await store.getSession(peerAddress(i)))!.serialize().length;
          },
        };
      },
    }),
  ),
  {
    impl: LIBSIGNAL_CLIENT,
    async create() {
      const bundle = await LibsignalParty.create(libs.lib103).createBundle();
      const me = LibsignalParty.create(libs.lib103, { storage: 'bytes' });
      return {
        async open(i) {
          await me.processBundle(peerAddress(i), bundle);
          await me.encrypt(peerAddress(i), PAYLOAD);
        },
        async recordBytes(i) {
          return me.sessionBytes(peerAddress(i))!.length;
        },
      };
    },
  },
];

const rows: PackageRow[] = [];
for (const n of sizes([1000, 10_000])) {
  for (const side of sides) {
    const s = await side.create();
    await s.open(-1); // warm-up (JIT, key caches) outside the measurement
    const before = liveBytes();
    const t = await timed(async () => {
      for (let i = 0; i < n; i++) await s.open(i);
    });
    const perSession = (liveBytes() - before) / n;
    const record = await s.recordBytes(0);
    const row: PackageRow = {
      case: `${n.toLocaleString('en')} sessions in one store: open + encrypt, per session`,
      impl: side.impl,
      ...(side.provider ? { provider: side.provider } : {}),
      medianMs: t.wallMs / n,
      cpuMs: t.cpuMs / n,
      samples: n,
      work: n,
      metrics: { 'memory / session': kib(perSession), 'record size': `${record} B` },
    };
    rows.push(row);
    console.log(
      `${row.case.padEnd(56)} ${`${side.impl} ${side.provider ?? ''}`.padEnd(28)} ` +
        `${row.medianMs.toFixed(3)} ms wall, ${row.cpuMs!.toFixed(3)} ms CPU, ${kib(perSession)} live, record ${record} B`,
    );
  }
}
emitRows('scale', rows);
