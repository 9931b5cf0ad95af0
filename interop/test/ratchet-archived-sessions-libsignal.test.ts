// Archived session states against libsignal-client 0.103.0, 0.90.0 and 0.72.1 (X3DH), live: which
// state a message lands on after both sides started a session at once, after one side replaced the
// session with messages still in flight, and after an explicit archive (`SessionCipher.archive` /
// libsignal's `SessionRecord.archiveCurrentState`). The expected trace is not written here: each
// scenario is first played libsignal ↔ libsignal (same build), and ours must produce the same trace
// in either seat. Every body our side reads is a pooled Node Buffer, checked unchanged afterwards,
// and a refusal on our side must leave our stored records byte-identical.
import { E2eeError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { type LibHandle, libs, type RawWireMessage, toLib } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';
import type { Endpoint } from './ratchet-scenario.js';

type Seat = 'A' | 'B';
type Step =
  | { op: 'bundle'; by: Seat } // `by` starts a new session from the other side's fresh bundle
  | { op: 'send'; by: Seat; id: string }
  | { op: 'recv'; by: Seat; id: string }
  | { op: 'archive'; by: Seat };

/** An endpoint that can also archive its current state with the peer. */
interface Side extends Endpoint {
  archive(peer: Endpoint['address']): Promise<void>;
}

const S = (by: Seat, id: string): Step => ({ op: 'send', by, id });
const R = (by: Seat, id: string): Step => ({ op: 'recv', by, id });

const scenarios: ReadonlyArray<readonly [string, readonly Step[]]> = [
  [
    'both start a session at once (crossed PreKey messages)',
    [
      { op: 'bundle', by: 'A' },
      { op: 'bundle', by: 'B' },
      S('A', 'a1'),
      S('B', 'b1'),
      R('B', 'a1'),
      R('A', 'b1'),
      S('A', 'a2'),
      R('B', 'a2'),
      S('B', 'b2'),
      R('A', 'b2'),
      S('A', 'a3'),
      R('B', 'a3'),
    ],
  ],
  [
    'B replaces the session while A has a message in flight on the old one',
    [
      { op: 'bundle', by: 'A' },
      S('A', 'a1'),
      R('B', 'a1'),
      S('B', 'b1'),
      R('A', 'b1'),
      S('A', 'a2'),
      { op: 'bundle', by: 'B' },
      S('B', 'b2'),
      R('A', 'b2'),
      R('B', 'a2'),
      S('B', 'b3'),
      R('A', 'b3'),
      S('A', 'a3'),
      R('B', 'a3'),
    ],
  ],
  [
    'explicit archive on either side, then messages on the archived state',
    [
      { op: 'bundle', by: 'A' },
      S('A', 'a1'),
      R('B', 'a1'),
      S('B', 'b1'),
      R('A', 'b1'),
      S('B', 'b2'),
      { op: 'archive', by: 'A' },
      S('A', 'a2'),
      R('A', 'b2'),
      S('A', 'a3'),
      R('B', 'a3'),
      S('A', 'a4'),
      { op: 'archive', by: 'B' },
      R('B', 'a4'),
      S('B', 'b3'),
      R('A', 'b3'),
    ],
  ],
];

/** Pooled Buffers handed to our side, to check afterwards that nothing wrote to them. */
const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  if (buffer.buffer.byteLength !== Buffer.poolSize) throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}

function libSide(lib: LibHandle): Side {
  const e = libEndpoint(lib, { name: crypto.randomUUID(), kyber: lib !== libs.lib72 });
  return {
    ...e,
    async archive(peer) {
      const bytes = e.party.sessionBytes(peer);
      if (bytes === null) return;
      const record = lib.mod.SessionRecord.deserialize(toLib(lib, bytes));
      record.archiveCurrentState();
      e.party.restoreSession(peer, record.serialize());
    },
  };
}

async function ourSide(lib: LibHandle, label: string, provider: (typeof allProviders)[number]['provider']) {
  const e = await ourEndpoint({ provider, providerLabel: label, x3dh: lib === libs.lib72 });
  const side: Side = {
    ...e,
    decrypt: (peer, m) => e.decrypt(peer, { type: m.type, body: pooled(m.body) }),
    async archive(peer) {
      await e.cipher(peer).archive();
    },
  };
  return { side, snapshot: () => e.snapshot(e.address) };
}

/** What happened at each step, in words both implementations share. */
async function play(
  a: Side,
  b: Side,
  steps: readonly Step[],
  ours?: { seat: Seat; snapshot: () => Promise<string> },
): Promise<string[]> {
  const ends = { A: a, B: b };
  const peerOf = (s: Seat) => ends[s === 'A' ? 'B' : 'A'];
  const sent = new Map<string, RawWireMessage>();
  const trace: string[] = [];
  for (const step of steps) {
    const me = ends[step.by];
    const peer = peerOf(step.by);
    const before = ours?.seat === step.by ? await ours.snapshot() : undefined;
    try {
      if (step.op === 'bundle') {
        await me.processBundle(peer.address, await peer.createBundle());
        trace.push(`${step.by} bundle`);
      } else if (step.op === 'archive') {
        await (me as Side).archive(peer.address);
        trace.push(`${step.by} archive`);
      } else if (step.op === 'send') {
        const m = await me.encrypt(peer.address, new TextEncoder().encode(step.id));
        sent.set(step.id, m);
        trace.push(`${step.by} send ${step.id}: ${m.type}`);
      } else {
        const m = sent.get(step.id);
        if (!m) throw new Error(`test setup: ${step.id} was not sent`);
        const got = new TextDecoder().decode(await me.decrypt(peer.address, m));
        trace.push(`${step.by} recv ${step.id}: ${got === step.id ? 'ok' : `wrong plaintext ${got}`}`);
      }
    } catch (err) {
      trace.push(`${step.by} ${step.op}${'id' in step ? ` ${step.id}` : ''}: refused`);
      if (before !== undefined) {
        // Ours: a typed refusal, and nothing stored changed.
        expect(E2eeError.is(err), String(err)).toBe(true);
        expect(await ours!.snapshot()).toBe(before);
      }
    }
  }
  return trace;
}

const provider = allProviders.find((p) => p.label === 'platform')!;

describe.each([libs.lib103, libs.lib90, libs.lib72].map((l) => [l.version, l] as const))(
  'archived session states: ours decides as libsignal-client %s',
  (_version, lib) => {
    it.each(scenarios)('%s', async (_name, steps) => {
      const reference = await play(libSide(lib), libSide(lib), steps);
      console.log(`[interop] ${lib.label} reference: ${reference.join(' | ')}`);
      const first = await ourSide(lib, provider.label, provider.provider);
      const asA = await play(first.side, libSide(lib), steps, { seat: 'A', snapshot: first.snapshot });
      const second = await ourSide(lib, provider.label, provider.provider);
      const asB = await play(libSide(lib), second.side, steps, { seat: 'B', snapshot: second.snapshot });
      expect(asA).toEqual(reference);
      expect(asB).toEqual(reference);
      for (const { buffer, hex } of handedOut) expect(buffer.toString('hex')).toBe(hex);
    });
  },
);
