// The conversation driver against libsignal alone: proves the schedule (reordering, loss, duplicates,
// session replacement) stays within libsignal's own limits, so a failure with our side is ours.
import { describe, expect, it } from 'vitest';
import { libs } from '../src/libsignal.js';
import { libEndpoint } from './ratchet-endpoints.js';
import { baseSeed, createRng, runConversation, seedFor } from './ratchet-scenario.js';

const seed = baseSeed();

describe('conversation driver, libsignal ↔ libsignal', () => {
  it.each([libs.lib103, libs.lib90].map((l) => [l.label, l] as const))(
    '%s: 200 messages, reordering, loss, duplicates, replaced sessions',
    async (label, lib) => {
      const name = `self ${label}`;
      const rng = createRng(seedFor(seed, name));
      const a = libEndpoint(lib, { name: crypto.randomUUID() });
      const b = libEndpoint(lib, { name: crypto.randomUUID() });
      const stats = await runConversation(a, b, rng, {
        messages: 200,
        replaceAt: [
          { at: 70, by: 'a' },
          { at: 140, by: 'b' },
        ],
      });
      console.log(`[interop] ${name}`, JSON.stringify(stats));
      expect(stats.replacements).toBe(2);
      expect(stats.delivered + stats.lost).toBe(200);
      expect(stats.directionChanges).toBeGreaterThan(20);
      expect(stats.outOfOrder).toBeGreaterThan(10);
      expect(stats.duplicatesRejected).toBeGreaterThan(0);
    },
  );
});
