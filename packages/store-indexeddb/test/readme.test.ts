// The README's quick start is test/quickstart.ts verbatim, and it runs — here on fake-indexeddb in
// Node (chromium.test.ts runs the same store in Chromium).
import 'fake-indexeddb/auto';
import { testReadmeQuickstart } from '../../../tools/readme-quickstart.js';

testReadmeQuickstart(new URL('./', import.meta.url), () => import('./quickstart.js'), ['hello from a tab']);
