// Live interop of @e2ee-kit/ratchet with @signalapp/libsignal-client (issue 3, point 7), on every
// crypto provider:
// - 0.103.0 and 0.90.0, PQXDH: ours initiates / libsignal initiates; 200-message conversations with
//   random direction changes, out-of-order delivery and loss (within libsignal's 5 receiver chains),
//   duplicates rejected on both sides without state change, and the session replaced by a fresh
//   prekey bundle on each side mid-conversation;
// - 0.72.1, legacy X3DH (version 3), both directions, same conversation.
// Seeded: the base seed is printed; rerun with E2EE_INTEROP_SEED=<seed> to reproduce.

import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { type LibHandle, libs } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';
import {
  baseSeed,
  type ConversationStats,
  createRng,
  type Endpoint,
  runConversation,
  seedFor,
} from './ratchet-scenario.js';

const seed = baseSeed();
const MESSAGES = 200;

function checkStats(stats: ConversationStats): void {
  expect(stats.sent).toBe(MESSAGES);
  expect(stats.delivered + stats.lost).toBe(MESSAGES);
  expect(stats.replacements).toBe(2);
  // The schedule really perturbed the conversation (these hold for any seed with these sizes).
  expect(stats.directionChanges).toBeGreaterThan(20);
  expect(stats.outOfOrder).toBeGreaterThan(5);
  expect(stats.duplicatesRejectedBy.a).toBeGreaterThan(0);
  expect(stats.duplicatesRejectedBy.b).toBeGreaterThan(0);
}

async function converse(name: string, a: Endpoint, b: Endpoint): Promise<ConversationStats> {
  const rng = createRng(seedFor(seed, name));
  const stats = await runConversation(a, b, rng, {
    messages: MESSAGES,
    replaceAt: [
      { at: Math.floor(MESSAGES / 3), by: 'a' },
      { at: Math.floor((2 * MESSAGES) / 3), by: 'b' },
    ],
  });
  console.log(`[interop] ${name}: ${JSON.stringify(stats)}`);
  return stats;
}

describe.each(allProviders.map((p) => [p.label, p.provider] as const))(
  'ours on %s',
  (providerLabel, provider) => {
    const ours = (x3dh = false) => ourEndpoint({ provider, providerLabel, x3dh });

    describe.each([libs.lib103, libs.lib90].map((l) => [l.version, l] as const))(
      'libsignal-client %s (PQXDH)',
      (_version, lib: LibHandle) => {
        it('ours initiates, libsignal responds', async () => {
          const a = await ours();
          const b = libEndpoint(lib, { name: crypto.randomUUID() });
          checkStats(await converse(`${providerLabel} ours→${lib.label}`, a, b));
        });

        it('libsignal initiates, ours responds', async () => {
          const a = libEndpoint(lib, { name: crypto.randomUUID() });
          const b = await ours();
          checkStats(await converse(`${providerLabel} ${lib.label}→ours`, a, b));
        });
      },
    );

    describe('libsignal-client 0.72.1 (legacy X3DH, version 3)', () => {
      it('ours initiates, libsignal responds', async () => {
        const a = await ours(true);
        const b = libEndpoint(libs.lib72, { kyber: false });
        const first = await firstMessage(a, b);
        expect(first[0]).toBe(0x34);
        checkStats(await converse(`${providerLabel} ours→lib72 x3dh`, a, b));
      });

      it('libsignal initiates, ours responds', async () => {
        const a = libEndpoint(libs.lib72, { kyber: false });
        const b = await ours(true);
        const first = await firstMessage(a, b);
        expect(first[0]).toBe(0x34);
        checkStats(await converse(`${providerLabel} lib72→ours x3dh`, a, b));
      });
    });
  },
);

/** Sets up a throw-away session a→b (fresh parties of the same kinds) and returns a's first message. */
async function firstMessage(a: Endpoint, b: Endpoint): Promise<Uint8Array> {
  await a.processBundle(b.address, await b.createBundle());
  const m = await a.encrypt(b.address, new TextEncoder().encode('first'));
  expect(m.type).toBe('prekey');
  expect(new TextDecoder().decode(await b.decrypt(a.address, m))).toBe('first');
  return m.body;
}
