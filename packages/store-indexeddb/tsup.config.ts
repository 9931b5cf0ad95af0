import { packageConfig } from '../../tools/tsup.base.js';

// Shared build (ESM + CJS + declarations): see tools/tsup.base.ts. Peer dependencies stay external.
export default packageConfig({
  entry: { index: 'src/index.ts' },
});
