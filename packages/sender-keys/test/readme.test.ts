// The README's quick start is test/quickstart.ts, byte for byte; this runs it.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const source = readFileSync(new URL('./quickstart.ts', import.meta.url), 'utf8');

describe('README quick start', () => {
  it('is the same code as test/quickstart.ts', () => {
    const block = readme.split('<!-- quickstart:start -->')[1]?.split('<!-- quickstart:end -->')[0] ?? '';
    const code = block.replace(/^\s*```ts\n/, '').replace(/```\s*$/, '');
    const body = source.split('\n').slice(1).join('\n').split('// ---')[0] ?? '';
    expect(code.trim()).toBe(body.trim());
  });

  it('runs and does what its comments say', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const { next, outcome, plaintext } = await import('./quickstart.js');
    expect(new TextDecoder().decode(plaintext)).toBe('hello group');
    expect(outcome.status).toBe('missing-sender-key');
    expect(next.rotation).toBe('member-removed');
    expect(next.needsDistribution).toEqual([{ name: 'bob', deviceId: 1 }]);
    expect(log.mock.calls.map((c) => c.map(String).join(' '))[0]).toBe('hello group');
    log.mockRestore();
  });
});
