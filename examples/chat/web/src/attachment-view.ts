/**
 * Photos in the web client: the composer's attach button (image files only, size checked before
 * anything is read) and the inline view of a photo message. A photo is shown only after the client
 * downloaded, verified (MAC and digest) and decrypted it: the <img> gets a blob: URL of the
 * decrypted bytes, never the relay's. A photo that fails verification is replaced by a clear text.
 */
import {
  AttachmentError,
  AttachmentErrorCode,
  type AttachmentPointer,
  type ChatClient,
  MAX_ATTACHMENT_BYTES,
  type PhotoMeta,
} from '@e2ee-kit/chat-client';
import { checkImageFile, checkImageSize } from './image-size.js';

const MiB = (n: number) => `${Math.round((n / (1024 * 1024)) * 10) / 10} MiB`;

/**
 * The attach button (a label around a hidden file input): picks, checks and hands over one photo;
 * why a photo was not sent is shown next to it.
 */
export function attachButton(options: {
  /** What the button shows (default: the word "Photo"). */
  label?: Node;
  send: (bytes: Uint8Array, meta: PhotoMeta) => Promise<unknown>;
  /** Called after each successful send. */
  sent: () => void;
}): HTMLElement {
  const status = document.createElement('span');
  status.className = 'attach-error';
  status.dataset['testid'] = 'attach-error';
  status.setAttribute('role', 'alert');
  const done = (error?: string) => {
    status.textContent = error ? `Photo not sent: ${error}` : '';
    if (!error) options.sent();
  };
  const input = document.createElement('input');
  input.type = 'file';
  input.accept = 'image/png,image/jpeg,image/gif,image/webp,image/avif'; // raster only: see checkPhotoMeta
  input.hidden = true;
  input.dataset['testid'] = 'attach-input';
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    input.value = '';
    if (!file) return;
    if (!file.type.startsWith('image/')) return done(`${file.name} is not an image`);
    if (file.size > MAX_ATTACHMENT_BYTES) {
      return done(`${file.name} is ${MiB(file.size)}; photos may be at most ${MiB(MAX_ATTACHMENT_BYTES)}`);
    }
    // Measured from its header before it decodes: a small file can decode to gigabytes.
    const check = await checkImageFile(file);
    if ('refused' in check) return done(`${file.name}: ${check.refused}`);
    let meta: PhotoMeta;
    try {
      // Decoding it once proves it is an image this browser can show, and gives its dimensions.
      const bitmap = await createImageBitmap(file);
      meta = { contentType: file.type, width: bitmap.width, height: bitmap.height };
      bitmap.close();
    } catch {
      return done(`${file.name} could not be read as an image`);
    }
    try {
      await options.send(new Uint8Array(await file.arrayBuffer()), meta);
      done();
    } catch (err) {
      done(err instanceof Error ? err.message : String(err));
    }
  });
  const label = document.createElement('label');
  label.className = 'attach';
  label.title = `Send a photo (at most ${MiB(MAX_ATTACHMENT_BYTES)}), encrypted on this device`;
  label.dataset['testid'] = 'attach';
  label.setAttribute('aria-label', 'Send a photo');
  label.append(options.label ?? 'Photo', input);
  const box = document.createElement('span');
  box.className = 'attach-box';
  box.append(label, status);
  return box;
}

/** A picture the page will not decode (image-size.ts). */
class PhotoRefused extends Error {}

const refusedForGood = (err: unknown) =>
  err instanceof PhotoRefused ||
  (err instanceof AttachmentError && err.code !== AttachmentErrorCode.Unavailable);

// Decrypted photos by pointer, so re-rendering a conversation neither downloads nor decrypts again.
// Bounded: the oldest object URL is revoked when the cache is full.
const CACHE_SIZE = 64;
const opened = new Map<string, Promise<string>>();

/** A blob: URL of the photo `p` names, opened once (exported for its test). */
export function photoUrl(client: ChatClient, p: AttachmentPointer): Promise<string> {
  // Everything that decides what is shown: another pointer to the same blob (same id and digest)
  // with a wrong key or another type must neither take this entry nor spoil it.
  const key = JSON.stringify([p.id, p.digest, p.key, p.contentType]);
  let url = opened.get(key);
  if (!url) {
    url = client.openAttachment(p).then((bytes) => {
      // The sender's bytes, whatever its pointer says: measured before an <img> decodes them.
      const check = checkImageSize(bytes);
      if ('refused' in check) throw new PhotoRefused(check.refused);
      return URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: p.contentType }));
    });
    // Only a failure that may pass is forgotten, so the next render tries again (the relay was
    // unreachable, or had no such blob yet). An altered blob or a refused picture stays refused:
    // each new message re-renders the chat, and each try is a download of up to 10 MiB.
    url.catch((err: unknown) => {
      if (!refusedForGood(err)) opened.delete(key);
    });
    opened.set(key, url);
    if (opened.size > CACHE_SIZE) {
      const [oldestKey, oldest] = opened.entries().next().value as [string, Promise<string>];
      opened.delete(oldestKey);
      void oldest.then(
        (u) => URL.revokeObjectURL(u),
        () => undefined,
      );
    }
  }
  return url;
}

/** A photo message's body: "Decrypting…", then the verified photo, or why it is not shown. */
export function photoView(client: ChatClient, pointer: AttachmentPointer): HTMLElement {
  const box = document.createElement('div');
  box.className = 'photo';
  box.textContent = 'Decrypting photo…';
  void photoUrl(client, pointer).then(
    (url) => {
      const img = document.createElement('img');
      img.src = url;
      img.alt = 'photo';
      img.dataset['testid'] = 'photo';
      if (pointer.width && pointer.height) {
        // Reserve the space before it decodes, so the list does not jump.
        img.width = Math.min(pointer.width, 320);
        img.height = Math.round((img.width / pointer.width) * pointer.height);
      }
      box.replaceChildren(img);
    },
    (err: unknown) => {
      box.className = 'photo photo-error';
      box.dataset['testid'] = 'photo-error';
      box.textContent = `This photo is not shown: ${err instanceof Error ? err.message : String(err)}.`;
    },
  );
  return box;
}
