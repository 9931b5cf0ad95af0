// The README's quick start is test/quickstart.ts verbatim, and it runs: the message and the session
// commit together.
import { testReadmeQuickstart } from '../../../tools/readme-quickstart.js';

testReadmeQuickstart(new URL('./', import.meta.url), () => import('./quickstart.js'), ['hello Bob']);
