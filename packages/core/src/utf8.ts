/**
 * UTF-8 without touching a global at module load. `TextEncoder` / `TextDecoder` are looked up on first
 * use and used when the runtime has them; otherwise (Hermes before React Native 0.74, some embedded
 * engines) a plain-TypeScript codec gives the same results:
 *
 * - encode: WHATWG `TextEncoder` (a lone surrogate becomes U+FFFD, as `USVString` conversion does);
 * - decode: WHATWG UTF-8 decode with `fatal: true` (overlong forms, surrogates, code points above
 *   U+10FFFF and truncated sequences are errors) and `ignoreBOM: true`: a leading U+FEFF is kept, as
 *   libsignal (Rust's `String::from_utf8`) keeps it. Stripped, "\uFEFF" + an ACI read as that ACI.
 *
 * A property test checks both directions against the runtime's own `TextEncoder` / `TextDecoder`.
 */
interface Native {
  readonly encoder: TextEncoder | undefined;
  readonly decoder: TextDecoder | undefined;
}
let native: Native | undefined;

function lookUp(): Native {
  if (native === undefined) {
    const g = globalThis as { TextEncoder?: typeof TextEncoder; TextDecoder?: typeof TextDecoder };
    let decoder: TextDecoder | undefined;
    try {
      decoder =
        typeof g.TextDecoder === 'function'
          ? new g.TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
          : undefined;
    } catch {
      decoder = undefined; // a TextDecoder without `fatal` support: use ours
    }
    native = { encoder: typeof g.TextEncoder === 'function' ? new g.TextEncoder() : undefined, decoder };
  }
  return native;
}

/** The pure codec, exported for the differential test; use `utf8` / `fromUtf8`. */
export function encodeUtf8Pure(text: string): Uint8Array {
  // At most 3 bytes per UTF-16 unit (a surrogate pair's 4 bytes come from 2 units).
  const out = new Uint8Array(text.length * 3);
  let o = 0;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[o++] = c;
      continue;
    }
    if (c < 0x800) {
      out[o++] = 0xc0 | (c >> 6);
      out[o++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        out[o++] = 0xf0 | (c >> 18);
        out[o++] = 0x80 | ((c >> 12) & 63);
        out[o++] = 0x80 | ((c >> 6) & 63);
        out[o++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd; // lone surrogate
    }
    out[o++] = 0xe0 | (c >> 12);
    out[o++] = 0x80 | ((c >> 6) & 63);
    out[o++] = 0x80 | (c & 63);
  }
  return out.slice(0, o);
}

/** The pure strict decoder, exported for the differential test; throws `TypeError` like `TextDecoder`. */
export function decodeUtf8Pure(bytes: Uint8Array): string {
  let i = 0;
  const units: number[] = [];
  let out = '';
  const bad = (): never => {
    throw new TypeError('The encoded data was not valid UTF-8');
  };
  while (i < bytes.length) {
    const b = bytes[i++] as number;
    let cp: number;
    if (b < 0x80) cp = b;
    else {
      let need: number;
      let lower = 0x80;
      let upper = 0xbf;
      if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
        cp = b & 0x1f;
      } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        cp = b & 0x0f;
        if (b === 0xe0) lower = 0xa0; // overlong
        if (b === 0xed) upper = 0x9f; // surrogates
      } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        cp = b & 0x07;
        if (b === 0xf0) lower = 0x90; // overlong
        if (b === 0xf4) upper = 0x8f; // above U+10FFFF
      } else return bad();
      for (let k = 0; k < need; k++) {
        if (i >= bytes.length) return bad();
        const n = bytes[i] as number;
        if (n < lower || n > upper) return bad();
        lower = 0x80;
        upper = 0xbf;
        cp = (cp << 6) | (n & 63);
        i++;
      }
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
    } else units.push(cp);
    // Flush in chunks: fromCharCode's argument count is bounded by the engine's stack.
    if (units.length >= 4096) {
      out += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return out + String.fromCharCode(...units);
}

const SHORT = 64;

/** UTF-8 encoding of `text` (lone surrogates become U+FFFD). */
export function utf8(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  // Short strings (protocol labels, module-level constants, addresses) take the pure path: it is as
  // fast as a native call for them and needs no global at all.
  if (text.length <= SHORT) return encodeUtf8Pure(text);
  const { encoder } = lookUp();
  return encoder ? encoder.encode(text) : encodeUtf8Pure(text);
}

/** Strict UTF-8 decode: invalid sequences throw `TypeError`. */
export function fromUtf8(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  const { decoder } = lookUp();
  return decoder ? decoder.decode(bytes) : decodeUtf8Pure(bytes);
}
