import { packageConfig } from '../../tools/tsup.base.js';

// Shared build (ESM + CJS + declarations): see tools/tsup.base.ts.
export default packageConfig({
  entry: { index: 'src/index.ts', node: 'src/node.ts', 'testing/index': 'src/testing/index.ts' },
});
