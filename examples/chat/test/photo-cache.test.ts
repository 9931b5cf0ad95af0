/**
 * The web client's cache of opened photos (`photoUrl` in web/src/attachment-view.ts), in Node (it
 * uses no DOM): a photo refused for good is not opened again, one the relay could not deliver is,
 * and a pointer is cached under everything that decides its bytes — a contact who knows a blob's id
 * and digest (a group photo) and sends a pointer to it with a wrong key must not make the genuine
 * photo show as refused, nor a cached one show under another's pointer.
 */
import { PNG } from 'pngjs';
import { expect, it } from 'vitest';
import {
  AttachmentError,
  AttachmentErrorCode,
  type AttachmentPointer,
  type ChatClient,
} from '../client/src/index.js';
import { photoUrl } from '../web/src/attachment-view.js';

const png = () => {
  const image = new PNG({ width: 2, height: 2 });
  return new Uint8Array(PNG.sync.write(image));
};

/** A client whose openAttachment answers by the pointer's key, counting calls. */
function fakeClient(answers: Record<string, () => Promise<Uint8Array>>) {
  const opened: string[] = [];
  const client = {
    openAttachment: (p: AttachmentPointer) => {
      opened.push(p.key);
      const answer = answers[p.key];
      return answer ? answer() : Promise.reject(new Error('unexpected key'));
    },
  } as unknown as ChatClient;
  return { client, opened };
}

const pointer = (id: string, key: string): AttachmentPointer => ({
  id,
  key,
  digest: 'digest-of-the-blob',
  size: 10,
  contentType: 'image/png',
});
const outcome = (p: Promise<string>) =>
  p.then(
    (url) => (url.startsWith('blob:') ? 'shown' : url),
    (e: unknown) => (e instanceof AttachmentError ? e.code : String(e)),
  );

it('a wrong-key pointer to a known blob neither hides the genuine photo nor is opened twice', async () => {
  const badMac = () => Promise.reject(new AttachmentError(AttachmentErrorCode.BadMac, 'altered'));
  const { client, opened } = fakeClient({ forged: badMac, genuine: async () => png() });
  expect(await outcome(photoUrl(client, pointer('blob-1', 'forged')))).toBe('ATTACHMENT_BAD_MAC');
  expect(await outcome(photoUrl(client, pointer('blob-1', 'genuine')))).toBe('shown');
  // Re-rendering: neither is opened again (a refusal for good stays, like a success).
  expect(await outcome(photoUrl(client, pointer('blob-1', 'forged')))).toBe('ATTACHMENT_BAD_MAC');
  expect(await outcome(photoUrl(client, pointer('blob-1', 'genuine')))).toBe('shown');
  expect(opened).toEqual(['forged', 'genuine']);
});

it('a photo the relay could not deliver is tried again on the next render', async () => {
  let up = false;
  const { client, opened } = fakeClient({
    k: async () => {
      if (!up) throw new AttachmentError(AttachmentErrorCode.Unavailable, 'unreachable');
      return png();
    },
  });
  expect(await outcome(photoUrl(client, pointer('blob-2', 'k')))).toBe('ATTACHMENT_UNAVAILABLE');
  up = true;
  expect(await outcome(photoUrl(client, pointer('blob-2', 'k')))).toBe('shown');
  expect(opened).toEqual(['k', 'k']);
});
