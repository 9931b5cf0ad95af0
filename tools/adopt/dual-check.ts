// The dual-package hazard, checked on the built packages: an app that ends up with both the
// CommonJS copy (`require`) and the ESM copy (`import`) of a package has two distinct sets of error
// classes. `instanceof` then fails across copies, `E2eeError.is` must not, and every error class
// prints its own name from either build. Written into the throwaway app as `dual.cjs`; run as
// `node dual.cjs <package name> [--storage]`.
export const DUAL_CHECK = String.raw`'use strict';
const assert = require('node:assert/strict');
const name = process.argv[2];
const cjs = require(name);
// Storage packages (store-*) are not feature packages: they define no error classes and do not
// re-export core's (an app gets them from the feature package it passes in). Both builds must still
// load and export the same names.
const storage = process.argv[3] === '--storage';
import(name).then((esm) => {
  const names = (mod) => Object.keys(mod).filter((k) => k !== 'default' && k !== 'module.exports').sort();
  assert.deepEqual(names(cjs), names(esm), 'the CJS and ESM builds export the same names');
  if (storage) {
    assert.equal(esm.E2eeError, undefined, 'a storage package re-exports no error classes');
    console.log('dual ESM/CJS load: both builds export the same ' + names(esm).length + ' names');
    return;
  }
  assert.notEqual(cjs.E2eeError, esm.E2eeError, 'two copies: distinct classes');
  const fromCjs = new cjs.LockedOutError(new Date(0));
  const fromEsm = new esm.DecodeError('bad bytes');
  assert.equal(fromCjs instanceof esm.E2eeError, false);
  assert.equal(esm.E2eeError.is(fromCjs), true, 'ESM is() recognises a CJS error');
  assert.equal(esm.E2eeError.is(fromCjs, esm.ErrorCode.LockedOut), true);
  assert.equal(esm.E2eeError.is(fromCjs, esm.ErrorCode.Store), false);
  assert.equal(cjs.E2eeError.is(fromEsm, cjs.ErrorCode.Decode), true, 'CJS is() recognises an ESM error');
  assert.equal(String(fromCjs), 'LockedOutError [LOCKED_OUT]: locked out until 1970-01-01T00:00:00.000Z');
  assert.equal(String(fromEsm), 'DecodeError [DECODE]: bad bytes');
  assert.ok(fromEsm.stack.startsWith('DecodeError: bad bytes'), fromEsm.stack);
  // Every exported error class of both builds is named after its export, and sets that name as a
  // literal (so err.name survives a bundler or minifier that renames the class binding).
  let classes = 0;
  for (const mod of [cjs, esm]) {
    for (const [key, value] of Object.entries(mod)) {
      if (typeof value !== 'function' || !(value === mod.E2eeError || value.prototype instanceof mod.E2eeError)) continue;
      assert.equal(value.name, key, 'constructor name of ' + key);
      const source = Function.prototype.toString.call(value);
      assert.ok(source.includes("this.name = \"" + key + "\"") || source.includes("this.name = '" + key + "'"),
        key + ' sets its name as a string literal');
      classes++;
    }
  }
  assert.ok(classes >= 24, 'found ' + classes + ' error classes');
  console.log('dual ESM/CJS load: is() works across copies; ' + classes / 2 + ' error classes print their own names');
}).catch((err) => {
  console.error(err);
  process.exit(1);
});
`;
