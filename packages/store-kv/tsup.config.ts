import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', 'testing/index': 'src/testing/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  splitting: false,
  treeshake: true,
  // The package itself stays external so ./testing shares the main entry's classes.
  external: [/^@noble\//, 'hash-wasm', /^@e2ee-kit\//],
  tsconfig: 'tsconfig.build.json',
});
