// Differential property test: X25519 and Ed25519 of every built-in provider against @noble/curves and
// node:crypto used directly — random and low-order / non-canonical u-coordinates (every provider
// answers the RFC 7748 all-zero output, none throws), signatures, and the verification decision on
// tampered signatures, messages and keys. The platform and node providers cache imported keys by
// content (provider/key-cache.ts): a caller that rewrites its buffer after a call, or two keys in
// Buffers from the same pool slab, must get the answer for the bytes passed now, never a cached key.
import * as nc from 'node:crypto';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { arrange, expectBytes, filled, type Kind, kinds } from './helpers/diff-inputs.js';

const P = 2n ** 255n - 19n;
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());
/** u-coordinates of the low-order points (RFC 7748 §6.1; cr.yp.to/ecdh.html), plain and non-canonical. */
const LOW_ORDER = [
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
  P, // ≡ 0
  P + 1n, // ≡ 1
].flatMap((u) => [le32(u), le32(u + 2n ** 255n)]); // the top bit is ignored (RFC 7748 §5)

const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');

/** node:crypto's X25519, the all-zero output where OpenSSL refuses a low-order point. */
function nodeX25519(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  const privateKey = nc.createPrivateKey({
    key: { kty: 'OKP', crv: 'X25519', d: b64u(priv), x: '' },
    format: 'jwk',
  });
  const publicKey = nc.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64u(pub) }, format: 'jwk' });
  try {
    return new Uint8Array(nc.diffieHellman({ privateKey, publicKey }));
  } catch {
    return new Uint8Array(32);
  }
}

function referenceX25519(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  let want: Uint8Array;
  try {
    want = x25519.scalarMult(priv, pub);
  } catch {
    want = new Uint8Array(32); // noble refuses the low-order inputs whose output is all zero
  }
  expectBytes(nodeX25519(priv, pub), want, 'the two references');
  return want;
}

const PKCS8_ED = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED = Buffer.from('302a300506032b6570032100', 'hex');

/** node:crypto's Ed25519 verification, after RFC 8032 §5.1.3's strict decoding of the key (noble's). */
function referenceVerify(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  try {
    ed25519.Point.fromBytes(pub, false);
  } catch {
    return false;
  }
  const key = nc.createPublicKey({ key: Buffer.concat([SPKI_ED, pub]), format: 'der', type: 'spki' });
  try {
    return nc.verify(null, msg, key, sig);
  } catch {
    return false;
  }
}

/** 32-bit FNV-1a (the caches' slot hash; draft-eastlake-fnv), written out here to stay independent. */
function fnv1a32(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193) >>> 0;
  return h;
}

/** Two different 32-byte strings with one FNV-1a value (birthday search over the last 8 bytes). */
function collidingPair(seed: number): [Uint8Array, Uint8Array] {
  const seen = new Map<number, Uint8Array>();
  const base = filled(32, seed);
  for (let i = 0; ; i++) {
    const x = base.slice();
    new DataView(x.buffer).setFloat64(24, i * 2654435761.5);
    const h = fnv1a32(x);
    const y = seen.get(h);
    if (y !== undefined && !Buffer.from(x).equals(Buffer.from(y))) return [y, x];
    seen.set(h, x);
  }
}
let colliding: [Uint8Array, Uint8Array][] | undefined;
/** Built on first use (~2 × 2^17 hashes): a private-key pair and a u-coordinate pair. */
const collisions = () => (colliding ??= [collidingPair(1), collidingPair(2)]);

const flipBit = (b: Uint8Array, bit: number): Uint8Array => {
  const out = b.slice();
  const at = bit % (out.length * 8);
  out[at >> 3] = (out[at >> 3] as number) ^ (1 << (at & 7));
  return out;
};

for (const { label, provider } of allProviders) {
  describe(`curve25519 entry points via ${label}`, () => {
    it('X25519 and its public key: the references’ bytes for any scalar and any u, low-order included', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.oneof(
            fc.uint8Array({ minLength: 32, maxLength: 32 }),
            fc.constantFrom(...LOW_ORDER),
            fc.uint8Array({ minLength: 32, maxLength: 32 }).map((k) => x25519.getPublicKey(k)),
          ),
          kinds,
          async (scalar, u, kind: Kind) => {
            const priv = arrange(32, 0, kind, scalar);
            const pub = arrange(32, 0, kind, u);
            expectBytes(await provider.x25519(priv.bytes, pub.bytes), referenceX25519(scalar, u), 'x25519');
            expectBytes(
              await provider.x25519PublicKey(priv.bytes),
              x25519.getPublicKey(scalar),
              'public key',
            );
            priv.unchanged();
            pub.unchanged();
          },
        ),
        { numRuns: 25 },
      );
    });

    it('Ed25519: noble’s and node’s signatures and public keys; tampering decided as node:crypto does', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.uint8Array({ minLength: 32, maxLength: 32 }),
          fc.uint8Array({ maxLength: 300 }),
          kinds,
          fc.nat(),
          fc.constantFrom('sig', 'msg', 'pub'),
          async (seed, message, kind: Kind, bit, what) => {
            const s = arrange(32, 0, kind, seed);
            const m = arrange(message.length, 0, kind, message);
            const pub = ed25519.getPublicKey(seed);
            const sig = ed25519.sign(message, seed);
            const nodeKey = nc.createPrivateKey({
              key: Buffer.concat([PKCS8_ED, seed]),
              format: 'der',
              type: 'pkcs8',
            });
            expectBytes(new Uint8Array(nc.sign(null, message, nodeKey)), sig, 'the two references');
            expectBytes(await provider.ed25519PublicKey(s.bytes), pub, 'public key');
            expectBytes(await provider.ed25519Sign(s.bytes, m.bytes), sig, 'signature');
            const p = arrange(32, 0, kind, pub);
            const g = arrange(64, 0, kind, sig);
            expect(await provider.ed25519Verify(p.bytes, m.bytes, g.bytes)).toBe(true);
            const [tp, tm, tg] = [
              what === 'pub' ? flipBit(pub, bit) : pub,
              what === 'msg'
                ? message.length === 0
                  ? Uint8Array.of(bit & 0xff)
                  : flipBit(message, bit)
                : message,
              what === 'sig' ? flipBit(sig, bit) : sig,
            ];
            expect(await provider.ed25519Verify(tp, tm, tg), `tampered ${what}`).toBe(
              referenceVerify(tp, tm, tg),
            );
            for (const x of [s, m, p, g]) x.unchanged();
          },
        ),
        { numRuns: 20 },
      );
    });

    it('key caches answer for the bytes passed now: rewritten buffers, keys from one pool slab', async () => {
      for (let round = 0; round < 3; round++) {
        const [k1, k2, u1] = [1, 2, 3].map((i) => filled(32, round * 16 + i)) as [
          Uint8Array,
          Uint8Array,
          Uint8Array,
        ];
        // Buffer.from of 32 bytes: consecutive slices of Node's shared pool, one ArrayBuffer.
        const a = Buffer.from(k1);
        const b = Buffer.from(k2);
        const peer = Buffer.from(x25519.getPublicKey(u1));
        expect(a.buffer).toBe(b.buffer);
        for (const [priv, raw] of [
          [a, k1],
          [b, k2],
          [a, k1],
        ] as const) {
          expectBytes(await provider.x25519(priv, peer), referenceX25519(raw, peer), 'pool slab x25519');
          expectBytes(await provider.x25519PublicKey(priv), x25519.getPublicKey(raw), 'pool slab public key');
          expectBytes(await provider.ed25519Sign(priv, peer), ed25519.sign(peer, raw), 'pool slab sign');
        }
        // The same Buffer rewritten in place after each call: a new key in an old array.
        const edPub = Buffer.from(ed25519.getPublicKey(k1));
        const sig = ed25519.sign(peer, k1);
        expect(await provider.ed25519Verify(edPub, peer, sig)).toBe(true);
        for (const step of [0, 1, 2]) {
          a[step] = (a[step] as number) ^ 0x55;
          peer.set(x25519.getPublicKey(filled(32, round * 16 + 5 + step)));
          const raw = new Uint8Array(a);
          expectBytes(
            await provider.x25519(a, peer),
            referenceX25519(raw, new Uint8Array(peer)),
            'rewritten',
          );
          expectBytes(await provider.x25519PublicKey(a), x25519.getPublicKey(raw), 'rewritten public key');
          expectBytes(await provider.ed25519Sign(a, peer), ed25519.sign(peer, raw), 'rewritten seed');
          edPub.set(ed25519.getPublicKey(raw));
          expect(await provider.ed25519Verify(edPub, peer, sig), 'verify under another key').toBe(false);
        }
        // Keys that share a cache slot (same FNV-1a value): each call answers for its own key.
        const [[c1, c2], [v1, v2]] = collisions() as [[Uint8Array, Uint8Array], [Uint8Array, Uint8Array]];
        expect(fnv1a32(c1)).toBe(fnv1a32(c2));
        for (const [priv, u] of [
          [c1, v1],
          [c2, v2],
          [c1, v2],
          [c2, v1],
        ] as const) {
          expectBytes(await provider.x25519(priv, u), referenceX25519(priv, u), 'colliding keys');
          expectBytes(
            await provider.x25519PublicKey(priv),
            x25519.getPublicKey(priv),
            'colliding public key',
          );
          expectBytes(await provider.ed25519Sign(priv, u), ed25519.sign(u, priv), 'colliding seed');
        }
        // Rewritten while the call is in flight: the answer is for the bytes at the call.
        const before = new Uint8Array(a);
        const pending = provider.x25519(a, peer);
        a.fill(0x77);
        expectBytes(await pending, referenceX25519(before, new Uint8Array(peer)), 'in flight');
      }
    });
  });
}
