// The README's quick start compiles and runs: extract the first ```ts block under "## Quick start",
// type-check it with the package's tsconfig, run it, and compare what it prints with libsignal's
// digits for the vector it uses (and with the output comments written in the README).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSafetyNumber } from '@e2ee-kit/safety-number';
import ts from 'typescript';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { fingerprintVectors } from './vectors.js';

const here = dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(join(here, '..', 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('## Quick start'));
const code = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
const file = join(here, '.readme-quickstart.generated.ts');

// Vector #0 is the one the quick start uses (ACI v2, 5200 iterations); its digits come from libsignal.
const vector = fingerprintVectors.vectors[0]!;
const expectedOutput = [
  ...formatSafetyNumber(vector.displayable, { groupsPerLine: 4 }).split('\n'),
  'true',
  'verified',
  'match',
];

afterAll(() => rmSync(file, { force: true }));

describe('README quick start', () => {
  it('uses the keys and identifiers of libsignal vector #0', () => {
    expect(code).toContain(vector.localIdentityKeyHex);
    expect(code).toContain(vector.remoteIdentityKeyHex);
    expect(code).toContain(vector.localIdentifierText);
    expect(code).toContain(vector.remoteIdentifierText);
    for (const line of expectedOutput) expect(code).toContain(`// ${line}\n`);
  });

  it('type-checks', () => {
    writeFileSync(file, code);
    const configPath = join(here, '..', 'tsconfig.json');
    const parsed = ts.getParsedCommandLineOfConfigFile(
      configPath,
      {},
      {
        ...ts.sys,
        onUnRecoverableConfigFileDiagnostic: (d) => {
          throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
        },
      },
    );
    if (!parsed) throw new Error('cannot read tsconfig.json');
    const program = ts.createProgram([file], { ...parsed.options, noEmit: true });
    const diagnostics = ts
      .getPreEmitDiagnostics(program)
      .filter((d) => d.file?.fileName === file.replaceAll('\\', '/') || d.file === undefined);
    const text = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(text).toEqual([]);
  });

  it('runs and prints what the README says', async () => {
    writeFileSync(file, code);
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      printed.push(args.map(String).join(' '));
    });
    try {
      await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
    } finally {
      spy.mockRestore();
    }
    expect(printed.join('\n').split('\n')).toEqual(expectedOutput);
  });
});
