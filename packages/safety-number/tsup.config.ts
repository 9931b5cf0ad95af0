import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', qr: 'src/qr.ts', wasm: 'src/wasm.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  splitting: false,
  treeshake: true,
  // `qr` and the package itself stay external so ./qr shares the main entry's classes.
  external: [/^@noble\//, 'hash-wasm', /^@e2ee-kit\//, 'qr'],
  tsconfig: 'tsconfig.build.json',
});
