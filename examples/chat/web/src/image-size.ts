/**
 * An image's pixel size read from its header, before anything decodes it. A decoder allocates
 * width × height × 4 bytes whatever the file's size: a 20,000 × 20,000 PNG of one colour compresses
 * to ~50 kB and decodes to 1.6 GB, which crashes the tab. So every picture the page decodes — a QR
 * screenshot, a photo to send, a contact's photo to show — is measured here first and refused past
 * `MAX_IMAGE_PIXELS`. Reads PNG, GIF, JPEG, WebP and AVIF; anything else is `undefined` (not decoded).
 */

/** 25 megapixels (100 MB decoded): a 12 MP phone photo and a 6K screenshot fit, a decoding bomb does not. */
export const MAX_IMAGE_PIXELS = 25_000_000;

/**
 * How much of a file the size is looked for in. A JPEG's frame header follows all its metadata
 * segments, which can be megabytes (a phone's portrait photo keeps its depth map in extended XMP
 * there): 16 MiB covers every photo the client may send (10 MiB) whole, and bounds what a picked
 * QR image costs to read.
 */
export const HEADER_BYTES = 16 * 1024 * 1024;

/** An AVIF's `ispe` boxes are in its `meta` box, at the start: searched for in this much only. */
const AVIF_META_BYTES = 512 * 1024;

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

const be16 = (b: Uint8Array, i: number) => ((b[i] ?? 0) << 8) | (b[i + 1] ?? 0);
const le16 = (b: Uint8Array, i: number) => (b[i] ?? 0) | ((b[i + 1] ?? 0) << 8);
const le24 = (b: Uint8Array, i: number) => le16(b, i) | ((b[i + 2] ?? 0) << 16);
const be32 = (b: Uint8Array, i: number) => be16(b, i) * 0x10000 + be16(b, i + 2);
const ascii = (b: Uint8Array, i: number, s: string) =>
  b.length >= i + s.length && [...s].every((c, k) => b[i + k] === c.charCodeAt(0));

function png(b: Uint8Array): ImageSize | undefined {
  if (!ascii(b, 1, 'PNG\r\n\x1a\n') || b[0] !== 0x89 || !ascii(b, 12, 'IHDR')) return undefined;
  return { width: be32(b, 16), height: be32(b, 20) };
}

/** The logical screen and, when larger, the first frame (decoders grow the canvas to fit it). */
function gif(b: Uint8Array): ImageSize | undefined {
  if (!ascii(b, 0, 'GIF87a') && !ascii(b, 0, 'GIF89a')) return undefined;
  let width = le16(b, 6);
  let height = le16(b, 8);
  const flags = b[10] ?? 0;
  let i = 13 + (flags & 0x80 ? 3 << ((flags & 7) + 1) : 0);
  while (i < b.length) {
    if (b[i] === 0x2c) {
      width = Math.max(width, le16(b, i + 1) + le16(b, i + 5));
      height = Math.max(height, le16(b, i + 3) + le16(b, i + 7));
      return { width, height };
    }
    if (b[i] !== 0x21) return undefined;
    i += 2; // extension introducer and label, then sub-blocks up to a zero-length one
    while (i < b.length && b[i] !== 0) i += (b[i] as number) + 1;
    i += 1;
  }
  return undefined;
}

/** The first start-of-frame segment (SOF0–SOF15 but DHT, JPG and DAC, which share the range). */
function jpeg(b: Uint8Array): ImageSize | undefined {
  if (b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1] as number;
    if (marker === 0xff) {
      i += 1; // fill byte
      continue;
    }
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return { width: be16(b, i + 7), height: be16(b, i + 5) };
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // end or scan before any frame
    i += 2 + be16(b, i + 2);
  }
  return undefined;
}

function webp(b: Uint8Array): ImageSize | undefined {
  if (!ascii(b, 0, 'RIFF') || !ascii(b, 8, 'WEBP')) return undefined;
  if (ascii(b, 12, 'VP8X')) return { width: le24(b, 24) + 1, height: le24(b, 27) + 1 };
  if (ascii(b, 12, 'VP8L') && b[20] === 0x2f) {
    const bits = (b[21] ?? 0) | ((b[22] ?? 0) << 8) | ((b[23] ?? 0) << 16) | ((b[24] ?? 0) << 24);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (ascii(b, 12, 'VP8 ') && b[23] === 0x9d && b[24] === 0x01 && b[25] === 0x2a) {
    return { width: le16(b, 26) & 0x3fff, height: le16(b, 28) & 0x3fff };
  }
  return undefined;
}

/**
 * AVIF (an ISO-BMFF file with an `avif`/`avis` brand): every image item carries an `ispe` property
 * with its size; the largest one found (a grid's, or its tiles') is the size.
 */
function avif(b: Uint8Array): ImageSize | undefined {
  if (!ascii(b, 4, 'ftyp')) return undefined;
  const ftypEnd = Math.min(be32(b, 0), b.length);
  let brand = false;
  for (let i = 8; i + 4 <= ftypEnd; i += 4) brand ||= ascii(b, i, 'avif') || ascii(b, i, 'avis');
  if (!brand) return undefined;
  let size: ImageSize | undefined;
  for (let i = ftypEnd; i + 20 <= Math.min(b.length, AVIF_META_BYTES); i++) {
    if (!ascii(b, i, 'ispe')) continue;
    const width = be32(b, i + 8);
    const height = be32(b, i + 12);
    if (!size || width * height > size.width * size.height) size = { width, height };
  }
  return size;
}

/** The size `header` (a file's first `HEADER_BYTES`) declares, or undefined for another format. */
export function imageSize(header: Uint8Array): ImageSize | undefined {
  return png(header) ?? gif(header) ?? jpeg(header) ?? webp(header) ?? avif(header);
}

export type SizeCheck = { size: ImageSize } | { refused: string };

/**
 * The size of the image `header` starts, or why it may not be decoded: a format not read here, or
 * more than `MAX_IMAGE_PIXELS`.
 */
export function checkImageSize(header: Uint8Array): SizeCheck {
  const size = imageSize(header);
  if (!size || size.width === 0 || size.height === 0) {
    return { refused: 'it is not a PNG, JPEG, GIF, WebP or AVIF image' };
  }
  if (size.width * size.height > MAX_IMAGE_PIXELS) {
    return {
      refused: `it is ${size.width} × ${size.height} pixels; at most ${MAX_IMAGE_PIXELS / 1_000_000} megapixels are read`,
    };
  }
  return { size };
}

/** `checkImageSize` of a file or blob, reading only its first `HEADER_BYTES`. */
export async function checkImageFile(file: Blob): Promise<SizeCheck> {
  return checkImageSize(new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer()));
}
