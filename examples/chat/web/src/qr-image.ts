/**
 * Reads a QR code out of a picture the user picked or pasted (a screenshot or a photo of the other
 * screen). The picture's size is read from its header first (image-size.ts): one larger than
 * `MAX_IMAGE_PIXELS` is refused before anything decodes it. What is decoded is drawn at most
 * `QR_SCAN_SIDE` pixels on its longer side for jsQR, whose work grows with the pixel count.
 */
import jsQR from 'jsqr';
import { checkImageFile } from './image-size.js';

/** Longest side of the canvas jsQR reads: a QR code filling a fifth of it still has ~5 px per module. */
export const QR_SCAN_SIDE = 2048;

export type QrScan = { readonly data: string; readonly bytes: Uint8Array } | { readonly problem: string };

export async function scanQrImage(file: Blob): Promise<QrScan> {
  const check = await checkImageFile(file);
  if ('refused' in check) return { problem: `That image is not read: ${check.refused}.` };
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return { problem: 'That image could not be read.' };
  }
  const scale = Math.min(1, QR_SCAN_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
  const ctx = canvas.getContext('2d');
  if (!ctx) {
    bitmap.close();
    return { problem: 'This browser cannot read images.' };
  }
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const code = jsQR(img.data, img.width, img.height);
  if (!code)
    return { problem: 'No QR code found in that image. Try a sharper screenshot of the whole code.' };
  return { data: code.data, bytes: Uint8Array.from(code.binaryData) };
}
