import { packageConfig } from '../../tools/tsup.base.js';

// Shared build (ESM + CJS + declarations): see tools/tsup.base.ts. ESM one file per module, so an
// app's bundler drops the modules its imports never reach (devices, healing, provisioning).
export default packageConfig({
  entry: { index: 'src/index.ts', node: 'src/node.ts', 'testing/index': 'src/testing/index.ts' },
  modules: true,
});
