// PreKey messages whose base key is not canonical. The sharp case: a small-order component (P + T, T
// one of the 7 non-trivial points of the 8-torsion subgroup). X25519 with a clamped scalar cannot see
// T, so such a message derives exactly the secrets of the genuine one: only libsignal's
// canonical-base-key check (0.81+) refuses it. Also non-canonical encodings (top bit set, u ≥ p),
// small-order u and a point of the twist. Both sides must refuse every variant for that reason —
// ours on every provider, with the store left as it was — and then accept the genuine message.
import { E2eeError, PublicKey } from '@e2ee-kit/core';
import { PreKeySignalMessage, RatchetErrorCode } from '@e2ee-kit/ratchet';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { libs, type RawWireMessage } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const torsion = ED25519_TORSION_SUBGROUP.slice(1).map((h) => ed25519.Point.fromHex(h));

/** Montgomery u → one Edwards point with that u (either sign: −P + T is as good a variant as P + T). */
function edwardsOf(u: Uint8Array) {
  const Fp = ed25519.Point.Fp;
  const un = Fp.create(BigInt(`0x${Buffer.from(u).reverse().toString('hex')}`));
  const y = Fp.div(Fp.sub(un, 1n), Fp.add(un, 1n));
  return ed25519.Point.fromBytes(Fp.toBytes(y));
}

const P = 2n ** 255n - 19n;
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());

/** A u whose curve equation has no solution on Curve25519 (a point of the twist). */
function twistU(): Uint8Array {
  const Fp = ed25519.Point.Fp;
  for (let u = 2n; ; u++) {
    const rhs = Fp.add(Fp.add(Fp.pow(u, 3n), Fp.mul(486662n, Fp.sqr(u))), u);
    if (Fp.pow(rhs, (P - 1n) / 2n) === P - 1n) return le32(u);
  }
}

/** Every non-canonical variant of a genuine base key u (raw 32 bytes), with what it is. */
function variants(u: Uint8Array): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = torsion.map((t, i) => [
    `P + T${i + 1}`,
    ed25519.utils.toMontgomery(edwardsOf(u).add(t).toBytes()),
  ]);
  const top = u.slice();
  top[31]! |= 0x80;
  out.push(['top bit set', top], ['u = p + 1', le32(P + 1n)], ['u = p − 1', le32(P - 1n)]);
  out.push(['u = 0', le32(0n)], ['u = 1', le32(1n)], ['twist point', twistU()]);
  return out;
}

/** The same PreKey message with another base key: same bytes everywhere else. */
function withBaseKey(m: RawWireMessage, u: Uint8Array): RawWireMessage {
  const msg = PreKeySignalMessage.deserialize(m.body);
  const baseKey = PublicKey.fromRaw(u);
  expect(baseKey.equals(msg.baseKey)).toBe(false);
  return { type: 'prekey', body: PreKeySignalMessage.create({ ...msg, baseKey }).serializedView };
}

const baseKeyOf = (m: RawWireMessage) => PreKeySignalMessage.deserialize(m.body).baseKey.raw();

describe.each(allProviders.map((p) => [p.label, p.provider] as const))(
  'ours on %s',
  (providerLabel, provider) => {
    it('libsignal-client 0.103.0 → ours: every non-canonical variant refused (INVALID_BASE_KEY), nothing stored', async () => {
      const a = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
      const b = await ourEndpoint({ provider, providerLabel });
      await a.processBundle(b.address, await b.createBundle());
      const m = await a.encrypt(b.address, enc.encode('genuine'));
      expect(m.type).toBe('prekey');
      const before = await b.snapshot(a.address);
      for (const [what, u] of variants(baseKeyOf(m))) {
        const err = await b.decrypt(a.address, withBaseKey(m, u)).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(E2eeError.is(err, RatchetErrorCode.InvalidBaseKey), `${what}: ${err}`).toBe(true);
        expect(await b.snapshot(a.address)).toBe(before);
      }
      expect(dec.decode(await b.decrypt(a.address, m))).toBe('genuine');
    });

    it('ours → libsignal-client 0.103.0: libsignal refuses the same variants of our message', async () => {
      const a = await ourEndpoint({ provider, providerLabel });
      const b = libEndpoint(libs.lib103, { name: crypto.randomUUID() });
      await a.processBundle(b.address, await b.createBundle());
      const m = await a.encrypt(b.address, enc.encode('genuine'));
      const before = await b.snapshot(a.address);
      for (const [what, u] of variants(baseKeyOf(m))) {
        const err = await b.decrypt(a.address, withBaseKey(m, u)).then(
          () => undefined,
          (e: unknown) => e,
        );
        // Refused for exactly that reason, not for anything the rebuilt message changed.
        expect(String(err), what).toContain('incoming base key is invalid');
        expect(await b.snapshot(a.address)).toBe(before);
      }
      expect(dec.decode(await b.decrypt(a.address, m))).toBe('genuine');
    });
  },
);
