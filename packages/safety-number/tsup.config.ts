import { packageConfig } from '../../tools/tsup.base.js';

// Shared build (ESM + CJS + declarations): see tools/tsup.base.ts.
export default packageConfig({
  entry: { index: 'src/index.ts', node: 'src/node.ts', qr: 'src/qr.ts', wasm: 'src/wasm.ts' },
});
