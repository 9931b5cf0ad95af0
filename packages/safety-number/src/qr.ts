/**
 * `@e2ee-kit/safety-number/qr`: the scannable payload as a QR code, drawn by the zero-dependency `qr`
 * package. Kept out of the main entry so apps that only show digits do not ship a QR encoder.
 *
 * Encoding: the raw protobuf bytes (74 bytes for a computed fingerprint) in ONE byte-mode segment,
 * without an ECI header. Each byte is one QR data byte; nothing is base64'd, hex'd or UTF-8 encoded, so
 * a decoder that exposes the raw segment bytes (jsQR's `binaryData`, ZXing's byte segments) returns
 * the exact payload. A decoder that only returns text decodes byte mode as ISO-8859-1, one character
 * per byte: turn that text back into bytes with `qrTextToPayload`. Never let a scanner decode it as
 * UTF-8 (bytes ≥ 0x80 would be replaced).
 */
import { copyBytes, DecodeError } from '@e2ee-kit/core';
// Through the package name, so this entry shares the main entry's classes (see tsup external).
import { SafetyNumber, ScannableFingerprint } from '@e2ee-kit/safety-number';
import { encodeQR } from 'qr';

export type QrErrorCorrection = 'low' | 'medium' | 'quartile' | 'high';

export interface SafetyNumberQrOptions {
  /** Error correction level. Default `medium` (15%): a 74-byte payload fits in a 37×37 symbol. */
  readonly ecc?: QrErrorCorrection;
}

export interface QrSvgOptions {
  /** Quiet zone around the symbol, in modules (ISO/IEC 18004 asks for 4). Default 4. */
  readonly quietZone?: number;
  /** Light colour painted behind the symbol (dark-mode pages need it). Default `#fff`; `null` for none. */
  readonly background?: string | null;
}

export interface QrRgbaOptions {
  /** Pixels per module. Default 8. */
  readonly scale?: number;
  /** Quiet zone in modules. Default 4. */
  readonly quietZone?: number;
}

/** RGBA pixels, the shape of a canvas `ImageData` (`new ImageData(data, width, height)`). */
export interface QrImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

export interface SafetyNumberQr {
  /** The exact bytes encoded (the `ScannableFingerprint` protobuf). */
  readonly payload: Uint8Array;
  /** Modules per side of the symbol itself, without quiet zone (17 + 4 × QR version). */
  readonly size: number;
  /** `modules[y][x]` is `true` for a dark module. No quiet zone: add one when drawing. */
  readonly modules: ReadonlyArray<ReadonlyArray<boolean>>;
  /** An SVG document (one path, viewBox in modules, scales with CSS). */
  toSvg(options?: QrSvgOptions): string;
  /** RGBA pixels: black modules on white, with a quiet zone. */
  toRgba(options?: QrRgbaOptions): QrImage;
}

/**
 * Byte-mode capacity of the largest symbol (version 40) per error correction level (ISO/IEC 18004
 * Table 7). Checked here so that a payload too large for the chosen level is this package's
 * `RangeError`, not the encoder's plain `Error`.
 */
const CAPACITY: Readonly<Record<QrErrorCorrection, number>> = {
  low: 2953,
  medium: 2331,
  quartile: 1663,
  high: 1273,
};
const MAX_QR_PAYLOAD = CAPACITY.low; // what any QR code can hold
const MAX_SCALE = 64;
const MAX_QUIET_ZONE = 16;

function payloadBytes(payload: Uint8Array | ScannableFingerprint | SafetyNumber): Uint8Array {
  if (payload instanceof Uint8Array) return copyBytes(payload);
  if (payload instanceof SafetyNumber) return payload.scannable.serialize();
  if (payload instanceof ScannableFingerprint) return payload.serialize();
  // The same classes from another copy of the package (an app that loads both the ESM and CJS builds).
  const p = payload as { serialize?: unknown; scannable?: { serialize?: unknown } } | null;
  const bytes =
    p !== null && typeof p === 'object'
      ? typeof p.serialize === 'function'
        ? (p.serialize as () => unknown)()
        : typeof p.scannable?.serialize === 'function'
          ? (p.scannable.serialize as () => unknown)()
          : undefined
      : undefined;
  // Copied: an object that is not ours may hand out bytes it keeps (and later changes).
  if (bytes instanceof Uint8Array) return copyBytes(bytes);
  throw new TypeError('payload must be a SafetyNumber, a ScannableFingerprint or bytes');
}

/** One character per byte (U+0000–U+00FF): what `qr`'s byte mode receives through `textEncoder`. */
function toLatin1(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] as number);
  return s;
}

function intOption(value: unknown, fallback: number, min: number, max: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function objectOption<T extends object>(value: T | undefined): T | Record<string, never> {
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object') throw new TypeError('options must be an object');
  return value;
}

/**
 * The QR code of a safety number's scannable payload (or of any payload bytes, e.g. to re-draw one).
 * Deterministic: the same payload and options give the same modules.
 */
export function safetyNumberQr(
  payload: Uint8Array | ScannableFingerprint | SafetyNumber,
  options?: SafetyNumberQrOptions,
): SafetyNumberQr {
  const bytes = payloadBytes(payload);
  const opts = objectOption(options);
  const ecc = opts.ecc ?? 'medium';
  if (typeof ecc !== 'string' || !Object.hasOwn(CAPACITY, ecc)) {
    throw new RangeError('ecc must be one of low, medium, quartile, high');
  }
  const capacity = CAPACITY[ecc as QrErrorCorrection];
  if (bytes.length === 0 || bytes.length > capacity) {
    throw new RangeError(`payload must be 1 to ${capacity} bytes with ecc ${ecc}`);
  }
  const text = toLatin1(bytes);
  const base = {
    ecc: ecc as QrErrorCorrection,
    encoding: 'byte' as const,
    textEncoder: () => bytes.slice(),
  };
  // border: 1 is the smallest qr accepts; strip it to get the bare symbol.
  const raw = encodeQR(text, 'raw', { ...base, border: 1 });
  const modules = raw.slice(1, -1).map((row) => Object.freeze(row.slice(1, -1)));
  Object.freeze(modules);
  const size = modules.length;

  return Object.freeze({
    // A copy: a write to it must not make `toSvg()` (which encodes `bytes`) draw another code than `modules`.
    payload: bytes.slice(),
    size,
    modules,
    toSvg(svgOptions?: QrSvgOptions): string {
      const o = objectOption(svgOptions);
      const quietZone = intOption(o.quietZone, 4, 1, MAX_QUIET_ZONE, 'quietZone');
      const background = o.background === undefined ? '#fff' : o.background;
      if (
        background !== null &&
        (typeof background !== 'string' || !/^[#a-zA-Z0-9(),.% ]+$/.test(background))
      ) {
        // Only letters, digits, #, parentheses, commas, dots, % and spaces: nothing that ends the attribute.
        throw new TypeError('background must be a CSS colour or null');
      }
      const svg = encodeQR(text, 'svg', { ...base, border: quietZone });
      if (background === null) return svg;
      const open = svg.indexOf('>') + 1;
      return `${svg.slice(0, open)}<rect width="100%" height="100%" fill="${background}"/>${svg.slice(open)}`;
    },
    toRgba(rgbaOptions?: QrRgbaOptions): QrImage {
      const o = objectOption(rgbaOptions);
      const scale = intOption(o.scale, 8, 1, MAX_SCALE, 'scale');
      const quietZone = intOption(o.quietZone, 4, 0, MAX_QUIET_ZONE, 'quietZone');
      const side = (size + 2 * quietZone) * scale;
      const data = new Uint8ClampedArray(side * side * 4).fill(255);
      for (let y = 0; y < size; y++) {
        const row = modules[y] as ReadonlyArray<boolean>;
        for (let x = 0; x < size; x++) {
          if (!row[x]) continue;
          for (let dy = 0; dy < scale; dy++) {
            let p = (((y + quietZone) * scale + dy) * side + (x + quietZone) * scale) * 4;
            for (let dx = 0; dx < scale; dx++, p += 4) {
              data[p] = 0;
              data[p + 1] = 0;
              data[p + 2] = 0;
            }
          }
        }
      }
      return { width: side, height: side, data };
    },
  });
}

/**
 * For scanners that return text instead of bytes: byte-mode text decoded as ISO-8859-1 (one character
 * per byte, as ZXing does without ECI) back to the payload bytes. A character above U+00FF means the
 * scanner decoded it some other way (e.g. UTF-8): `DecodeError`.
 */
export function qrTextToPayload(text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  if (text.length > MAX_QR_PAYLOAD) throw new DecodeError('QR text is longer than any QR payload');
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) throw new DecodeError('QR text is not one character per byte (decode it as ISO-8859-1)');
    out[i] = c;
  }
  return out;
}
