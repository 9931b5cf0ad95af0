/**
 * The relay's static file serving (the built web client): every file goes out with a strict
 * Content-Security-Policy and the other security headers, so an injected script could neither run
 * nor send the IndexedDB key store anywhere, the page cannot be framed (clickjacking), and no file is
 * sniffed into another type. The browser tests prove the app itself runs under that policy.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';

let dir: string;
let relay: Relay;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'e2ee-chat-static-'));
  mkdirSync(join(dir, 'assets'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  writeFileSync(join(dir, 'assets', 'app.js'), 'export {};');
  relay = await startRelay({ logger: silentLogger, staticDir: dir });
});
afterAll(async () => {
  await relay.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The directives of a CSP header, by name. */
function directives(csp: string | null): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of (csp ?? '').split(';')) {
    const [name, ...values] = part.trim().split(/\s+/);
    if (name) out.set(name, values);
  }
  return out;
}

describe('static files of the web client', () => {
  it.each([
    ['/', 'text/html; charset=utf-8'],
    ['/index.html', 'text/html; charset=utf-8'],
    ['/assets/app.js', 'text/javascript; charset=utf-8'],
  ])('%s is served with a strict CSP and the security headers', async (path, type) => {
    const res = await fetch(relay.url + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(type);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = directives(res.headers.get('content-security-policy'));
    // Nothing is allowed unless named: no plugins, no <base> rewriting, no forms posting elsewhere.
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(csp.get('form-action')).toEqual(["'none'"]);
    expect(csp.get('frame-ancestors')).toEqual(["'none'"]);
    // Scripts only from the relay's own files (no inline script, no eval); WebAssembly (Argon2 of
    // backups, via hash-wasm) compiles from bytes, which needs 'wasm-unsafe-eval' and nothing more.
    expect(csp.get('script-src')).toEqual(["'self'", "'wasm-unsafe-eval'"]);
    expect(csp.get('style-src')).toEqual(["'self'"]);
    // Photos are shown from blob: URLs of decrypted bytes; the only connection is the relay's own.
    expect(csp.get('img-src')).toEqual(["'self'", 'blob:']);
    expect(csp.get('connect-src')).toEqual(["'self'"]);
    // Trusted Types: no string reaches an HTML or script sink (innerHTML, script text…), and no
    // policy may be created to turn one into markup; the page builds its DOM with DOM APIs only.
    expect(csp.get('require-trusted-types-for')).toEqual(["'script'"]);
    expect(csp.get('trusted-types')).toEqual(["'none'"]);
    await res.arrayBuffer();
  });

  it('an API answer is not a static file: /v1 routes keep their own headers', async () => {
    const res = await fetch(`${relay.url}/v1/no-such-route`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    // Answers echo client-chosen text and blobs are a sender's bytes: never sniffed into HTML.
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    await res.arrayBuffer();
  });
});
