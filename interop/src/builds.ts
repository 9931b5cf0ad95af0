// The libsignal-client builds the interop tests and benchmarks drive. AGPL: this private package is
// the only place that depends on them; published packages never import it.
import * as lib103 from '@signalapp/libsignal-client';
import * as lib72 from 'libsignal-client-0.72';
import * as lib90 from 'libsignal-client-0.90';

export { lib72, lib90, lib103 };
