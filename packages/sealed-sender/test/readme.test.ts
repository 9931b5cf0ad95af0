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
    const { carolOpened, opened, split } = await import('./quickstart.js');
    expect(opened.sender.serviceId).toBe('9d0652a3-dcc3-4d11-975f-74d61598733f');
    expect(opened.content.type).toBe('whisper');
    expect([...split.recipients().keys()]).toEqual([
      'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc',
      '5a1e6f0c-8f5e-4b8e-9d3a-2b7c6d5e4f30',
    ]);
    expect(carolOpened.content.type).toBe('senderkey');
    const lines = log.mock.calls.map((c) => c.map(String).join(' '));
    expect(lines[0]).toBe('true whisper');
    expect(lines[2]).toBe('a sender-key message');
    log.mockRestore();
  });
});
