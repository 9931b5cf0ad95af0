// Certificate decisions against libsignal-client 0.103.0, table-driven: hand-built sender and server
// certificates with odd fields (missing, repeated, out of range, padded varints), expiry around the
// instant, revoked and built-in server key ids, and trust-root lists. For every row, our
// `SenderCertificate.deserialize` + `check` decides as libsignal's `deserialize` + `validateWithTrustRoots`
// does, and where both parse, the fields read are the same.
import { E2eeError, PrivateKey, ProtoWriter, PublicKey, xeddsaSign } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { SenderCertificate } from '@e2ee-kit/sealed-sender';
import { beforeAll, describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';
import { ab, EXPIRES, hex, NOW, type Party, party, server } from './sealed-sender-parties.js';

const provider = nodeProvider;
const UUID = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const UUID_BYTES = Uint8Array.from(UUID.replace(/-/g, '').match(/../g) ?? [], (h) => Number.parseInt(h, 16));
const otherRoot = L.PrivateKey.generate();
const otherRootKey = PublicKey.deserialize(otherRoot.getPublicKey().serialize());
/** libsignal's test server key (all-0xFF private key) behind built-in id 0x7357C357, and its root. */
const testServerKey = PrivateKey.deserialize(new Uint8Array(32).fill(0xff));
let testRoot: PublicKey;
let alice: Party;

beforeAll(async () => {
  alice = await party(1, UUID);
  testRoot = PublicKey.deserialize(
    L.PrivateKey.deserialize(ab(new Uint8Array(32)))
      .getPublicKey()
      .serialize(),
  );
});

type Field = (w: ProtoWriter) => void;

/** A server certificate {1: inner, 2: signature} over hand-written inner fields, signed by `root`. */
function serverCert(fields: Field[], root = server.libRoot): Uint8Array {
  const w = new ProtoWriter();
  for (const f of fields) f(w);
  const inner = w.finish();
  const signature = xeddsaSign(PrivateKey.deserialize(root.serialize()), inner, provider);
  return new ProtoWriter().bytes(1, inner).bytes(2, signature).finish();
}

const serverKeyBytes = () => new Uint8Array(server.libKey.getPublicKey().serialize());
const goodServer = (id = 7): Field[] => [(w) => w.uint32(1, id), (w) => w.bytes(2, serverKeyBytes())];

/** The fields of a valid sender certificate for alice, in libsignal's order, before any change. */
function baseFields(): Field[] {
  return [
    (w) => w.string(1, '+15550001111'),
    (w) => w.uint32(2, 1),
    (w) => w.fixed64(3, BigInt(EXPIRES)),
    (w) => w.bytes(4, alice.ours.publicKey.serialize()),
    (w) => w.bytes(5, serverCert(goodServer())),
    (w) => w.string(6, UUID),
  ];
}

/** A sender certificate over `fields`, signed by `signer` (the server key by default). */
function senderCert(fields: Field[], signer: PrivateKey = server.key): Uint8Array {
  const w = new ProtoWriter();
  for (const f of fields) f(w);
  const inner = w.finish();
  return new ProtoWriter()
    .bytes(1, inner)
    .bytes(2, xeddsaSign(signer, inner, provider))
    .finish();
}

interface Row {
  name: string;
  cert: () => Uint8Array;
  now?: number;
  /** Trust roots for both sides (default: the server's). */
  roots?: () => PublicKey[];
  /** Our outcome: 'valid', a CertificateFailure reason, or 'DECODE'. */
  want: string;
}

const without = (i: number): Field[] => baseFields().filter((_, j) => j !== i);
const plus = (...extra: Field[]): Field[] => [...baseFields(), ...extra];

const rows: Row[] = [
  // Expiry: valid up to and including the instant.
  { name: 'one ms before the expiry', cert: () => senderCert(baseFields()), now: EXPIRES - 1, want: 'valid' },
  { name: 'at the expiry instant', cert: () => senderCert(baseFields()), now: EXPIRES, want: 'valid' },
  {
    name: 'one ms after the expiry',
    cert: () => senderCert(baseFields()),
    now: EXPIRES + 1,
    want: 'expired',
  },
  {
    name: 'expires 2^64 - 1, now the largest safe integer',
    cert: () => senderCert(plus((w) => w.fixed64(3, (1n << 64n) - 1n))),
    now: Number.MAX_SAFE_INTEGER,
    want: 'valid',
  },
  { name: 'expires 0, now 0', cert: () => senderCert(plus((w) => w.fixed64(3, 0n))), now: 0, want: 'valid' },
  {
    name: 'expires 0, now 1',
    cert: () => senderCert(plus((w) => w.fixed64(3, 0n))),
    now: 1,
    want: 'expired',
  },
  // Device id: 1..127, the varint truncated to 32 bits as prost reads a uint32.
  { name: 'no device id', cert: () => senderCert(without(1)), want: 'DECODE' },
  { name: 'device id 0', cert: () => senderCert(plus((w) => w.uint32(2, 0))), want: 'DECODE' },
  { name: 'device id 127', cert: () => senderCert(plus((w) => w.uint32(2, 127))), want: 'valid' },
  { name: 'device id 128', cert: () => senderCert(plus((w) => w.uint32(2, 128))), want: 'DECODE' },
  {
    name: 'device id 2^32 + 5 (a 64-bit varint)',
    cert: () => senderCert(plus((w) => w.uint64(2, (1n << 32n) + 5n))),
    want: 'valid',
  },
  {
    name: 'device id 2^32 (truncates to 0)',
    cert: () => senderCert(plus((w) => w.uint64(2, 1n << 32n))),
    want: 'DECODE',
  },
  {
    name: 'device id repeated: 200 then 3',
    cert: () =>
      senderCert(
        plus(
          (w) => w.uint32(2, 200),
          (w) => w.uint32(2, 3),
        ),
      ),
    want: 'valid',
  },
  {
    name: 'device id repeated: 3 then 200',
    cert: () =>
      senderCert(
        plus(
          (w) => w.uint32(2, 3),
          (w) => w.uint32(2, 200),
        ),
      ),
    want: 'DECODE',
  },
  {
    name: 'device id as bytes',
    cert: () => senderCert(plus((w) => w.bytes(2, Uint8Array.of(1)))),
    want: 'DECODE',
  },
  // Sender UUID: the string (6) or the 16 bytes (7), the last one given wins.
  { name: 'no sender uuid', cert: () => senderCert(without(5)), want: 'DECODE' },
  { name: 'empty uuid string', cert: () => senderCert(plus((w) => w.string(6, ''))), want: 'valid' },
  {
    name: 'uuid string not a UUID',
    cert: () => senderCert(plus((w) => w.string(6, 'hello'))),
    want: 'valid',
  },
  {
    name: 'uuid as 16 bytes',
    cert: () => senderCert([...without(5), (w) => w.bytes(7, UUID_BYTES)]),
    want: 'valid',
  },
  {
    name: 'uuid as 15 bytes',
    cert: () => senderCert([...without(5), (w) => w.bytes(7, UUID_BYTES.subarray(1))]),
    want: 'DECODE',
  },
  {
    name: 'uuid string, then 16 bytes of another',
    cert: () => senderCert(plus((w) => w.bytes(7, new Uint8Array(16).fill(0xab)))),
    want: 'valid',
  },
  {
    name: 'uuid 15 bytes, then the string',
    cert: () =>
      senderCert([...without(5), (w) => w.bytes(7, UUID_BYTES.subarray(1)), (w) => w.string(6, UUID)]),
    want: 'valid',
  },
  {
    name: 'uuid string repeated',
    cert: () => senderCert(plus((w) => w.string(6, 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc'))),
    want: 'valid',
  },
  {
    name: 'uuid string not UTF-8',
    cert: () => senderCert([...without(5), (w) => w.bytes(6, Uint8Array.of(0xff, 0xfe))]),
    want: 'DECODE',
  },
  // E.164: optional, the last one wins.
  { name: 'no E.164', cert: () => senderCert(without(0)), want: 'valid' },
  { name: 'empty E.164', cert: () => senderCert(plus((w) => w.string(1, ''))), want: 'valid' },
  { name: 'E.164 repeated', cert: () => senderCert(plus((w) => w.string(1, '+15550002222'))), want: 'valid' },
  // Identity key.
  { name: 'no identity key', cert: () => senderCert(without(3)), want: 'DECODE' },
  {
    name: 'identity key without its type byte',
    cert: () => senderCert(plus((w) => w.bytes(4, alice.ours.publicKey.serialize().subarray(1)))),
    want: 'DECODE',
  },
  // Signer: embedded (5) or a built-in id (8), the last one given wins.
  { name: 'no signer', cert: () => senderCert(without(4)), want: 'DECODE' },
  {
    name: 'embedded signer, then built-in id 0x7357C357',
    cert: () =>
      senderCert(
        plus((w) => w.uint32(8, 0x7357c357)),
        testServerKey,
      ),
    roots: () => [testRoot],
    want: 'valid',
  },
  {
    name: 'built-in id 0x7357C357, then the embedded signer',
    cert: () => senderCert([(w) => w.uint32(8, 0x7357c357), ...baseFields()]),
    want: 'valid',
  },
  {
    name: 'built-in id 0x7357C357 as a 64-bit varint (2^32 + id)',
    cert: () => senderCert([...without(4), (w) => w.uint64(8, (1n << 32n) + 0x7357c357n)], testServerKey),
    roots: () => [testRoot],
    want: 'valid',
  },
  {
    name: 'built-in id 3 (production), our root',
    cert: () => senderCert([...without(4), (w) => w.uint32(8, 3)]),
    want: 'untrusted-signer',
  },
  {
    name: 'built-in id 0xDEADC357 (the revoked test id, not in the table)',
    cert: () => senderCert([...without(4), (w) => w.uint32(8, 0xdeadc357)]),
    want: 'unknown-signer',
  },
  // The embedded server certificate.
  {
    name: 'server key id 0xDEADC357 (revoked)',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert(goodServer(0xdeadc357))))),
    want: 'revoked',
  },
  {
    name: 'server key id 2^32 + 0xDEADC357 (truncates to the revoked id)',
    cert: () =>
      senderCert(
        plus((w) =>
          w.bytes(5, serverCert([(s) => s.uint64(1, (1n << 32n) + 0xdeadc357n), goodServer()[1] as Field])),
        ),
      ),
    want: 'revoked',
  },
  {
    name: 'server key id 0xDEADC357, then 7',
    cert: () =>
      senderCert(plus((w) => w.bytes(5, serverCert([(s) => s.uint32(1, 0xdeadc357), ...goodServer()])))),
    want: 'valid',
  },
  {
    name: 'server key id 0',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert(goodServer(0))))),
    want: 'valid',
  },
  {
    name: 'server certificate without a key id',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert([goodServer()[1] as Field])))),
    want: 'DECODE',
  },
  {
    name: 'server certificate without a key',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert([goodServer()[0] as Field])))),
    want: 'DECODE',
  },
  {
    name: 'server certificate signed by another root',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert(goodServer(), otherRoot)))),
    want: 'untrusted-signer',
  },
  {
    name: 'sender certificate signed by the trust root, not the server key',
    cert: () => senderCert(baseFields(), PrivateKey.deserialize(server.libRoot.serialize())),
    want: 'bad-signature',
  },
  // Trust roots.
  { name: 'no trust root', cert: () => senderCert(baseFields()), roots: () => [], want: 'untrusted-signer' },
  {
    name: 'another root, then the right one',
    cert: () => senderCert(baseFields()),
    roots: () => [otherRootKey, server.root],
    want: 'valid',
  },
  {
    name: 'the right root, then another',
    cert: () => senderCert(baseFields()),
    roots: () => [server.root, otherRootKey],
    want: 'valid',
  },
  {
    name: 'the right root twice',
    cert: () => senderCert(baseFields()),
    roots: () => [server.root, server.root],
    want: 'valid',
  },
  {
    name: 'the server key itself as the trust root',
    cert: () => senderCert(baseFields()),
    roots: () => [PublicKey.deserialize(server.libKey.getPublicKey().serialize())],
    want: 'untrusted-signer',
  },
  {
    name: 'several wrong roots, revoked id',
    cert: () => senderCert(plus((w) => w.bytes(5, serverCert(goodServer(0xdeadc357))))),
    roots: () => [otherRootKey, server.root],
    want: 'revoked',
  },
];

async function ours(bytes: Uint8Array, roots: PublicKey[], now: number) {
  let cert: SenderCertificate;
  try {
    cert = SenderCertificate.deserialize(bytes);
  } catch (err) {
    if (!E2eeError.is(err, 'DECODE')) throw err;
    return { outcome: 'DECODE' };
  }
  const check = await cert.check(roots, now, { provider });
  const fields = [cert.senderUuid, cert.senderE164 ?? null, cert.deviceId, hex(cert.identityKey.serialize())];
  return { outcome: check.valid ? 'valid' : check.reason, fields, expiresAt: cert.expiresAt };
}

function theirs(bytes: Uint8Array, roots: PublicKey[], now: number) {
  let cert: ReturnType<typeof L.SenderCertificate.deserialize>;
  try {
    cert = L.SenderCertificate.deserialize(ab(bytes));
  } catch {
    return { outcome: 'DECODE' };
  }
  const valid = cert.validateWithTrustRoots(
    roots.map((r) => L.PublicKey.deserialize(ab(r.serialize()))),
    now,
  );
  const fields = [cert.senderUuid(), cert.senderE164(), cert.senderDeviceId(), hex(cert.key().serialize())];
  return { outcome: valid ? 'valid' : 'invalid', fields };
}

describe('sender certificate decisions agree with libsignal (deserialize + validateWithTrustRoots)', () => {
  for (const row of rows)
    it(row.name, async () => {
      const bytes = row.cert();
      const roots = row.roots?.() ?? [server.root];
      const now = row.now ?? NOW;
      const a = await ours(bytes, roots, now);
      const b = theirs(bytes, roots, now);
      expect(a.outcome).toBe(row.want);
      expect(b.outcome).toBe(a.outcome === 'valid' || a.outcome === 'DECODE' ? a.outcome : 'invalid');
      expect(a.fields).toEqual(b.fields);
      // libsignal's single-root `validate` decides as the list does for one root.
      if (b.outcome !== 'DECODE' && roots.length === 1) {
        const lib = L.SenderCertificate.deserialize(ab(bytes));
        expect(lib.validate(L.PublicKey.deserialize(ab((roots[0] as PublicKey).serialize())), now)).toBe(
          b.outcome === 'valid',
        );
      }
    });
});
