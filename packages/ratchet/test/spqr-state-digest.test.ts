// Byte-for-byte regression of the SPQR state writer, the braid and the chains: seeded lossy,
// reordering conversations (random senders, losses, late and repeated deliveries, some states loaded
// afresh from their bytes) hashed over every written state, `pq_ratchet` value, message key, epoch
// secret and refusal code. The expected digest was computed by the release before the state writer
// was restructured (commit f724d58: decoder points written field by field, chains copied whole, ML-KEM
// Encaps2 through noble's one-shot encapsulation) running this same harness.
import { createHash } from 'node:crypto';
import { nodeProvider } from '@e2ee-kit/core/node';
import { describe, expect, it } from 'vitest';
import { generateKeys } from '../src/spqr/mlkem768.js';
import { initSpqr, spqrRecvDetailed, spqrSendDetailed } from '../src/spqr/ratchet.js';
import { SpqrState } from '../src/spqr/state.js';

const provider = nodeProvider;

/** xorshift64: a reproducible schedule and entropy (test data, not key material anyone uses). */
function rng(seed: number) {
  let s = BigInt(seed) | 1n;
  const M = (1n << 64n) - 1n;
  const next = () => {
    s ^= (s << 13n) & M;
    s ^= s >> 7n;
    s ^= (s << 17n) & M;
    return Number(s & 0xffffffffn) >>> 0;
  };
  return {
    u32: next,
    f: () => next() / 2 ** 32,
    bytes: (n: number) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

async function conversation(seed: number, n: number, maxLoss: number, put: (b: Uint8Array) => void) {
  const r = rng(seed);
  const entropy = { keys: () => generateKeys(r.bytes(64)), encapsSeed: () => r.bytes(32) };
  const auth = r.bytes(32);
  let a = await initSpqr(auth, 'initiator', provider);
  let b = await initSpqr(auth, 'responder', provider);
  const held: { toA: boolean; pq: Uint8Array }[] = [];
  const loss = r.f() * maxLoss;
  const burst = r.f() < 0.5;
  const recv = async (toA: boolean, pq: Uint8Array) => {
    let st = toA ? a : b;
    if (r.f() < 0.2) {
      st = SpqrState.deserialize(st.serialize());
      put(st.serialize());
    }
    try {
      const got = await spqrRecvDetailed(st, pq, provider);
      put(got.messageKey ?? new Uint8Array(0));
      if (got.secret) put(got.secret.secret);
      put(got.state.serialize());
      if (toA) a = got.state;
      else b = got.state;
    } catch (e) {
      put(new TextEncoder().encode(String((e as { code?: string }).code ?? (e as Error).message)));
    }
  };
  for (let i = 0; i < n; i++) {
    const fromA = burst ? r.f() < 0.5 : i % 2 === 0;
    const sent = await spqrSendDetailed(fromA ? a : b, provider, entropy);
    put(sent.pqRatchet);
    put(sent.messageKey);
    if (sent.secret) put(sent.secret.secret);
    put(sent.state.serialize());
    if (fromA) a = sent.state;
    else b = sent.state;
    const x = r.f();
    if (x < loss) continue;
    if (x < loss + 0.1) {
      held.push({ toA: !fromA, pq: sent.pqRatchet });
      continue;
    }
    await recv(!fromA, sent.pqRatchet);
    if (held.length > 0 && r.f() < 0.3) {
      const [m] = held.splice(r.u32() % held.length, 1);
      if (m) await recv(m.toA, m.pq);
    }
    if (held.length > 0 && r.f() < 0.01) await recv(held[0]!.toA, held[0]!.pq);
  }
}

describe('SPQR conversations byte for byte', () => {
  it('seeded lossy conversations write the same states, messages and keys as f724d58', async () => {
    const h = createHash('sha256');
    const put = (x: Uint8Array) => {
      h.update(Uint8Array.of(x.length & 0xff, x.length >> 8));
      h.update(x);
    };
    for (let c = 0; c < 6; c++) await conversation(2000 + c, 250, c < 3 ? 0.3 : 0.6, put);
    expect(h.digest('hex')).toBe('cbb90f0db3e4cd1263d128db90f6c9596820f49afe1e103f298ef46e70637b6d');
  }, 60_000);
});
