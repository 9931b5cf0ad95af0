/**
 * A relay's answers are read with a bound: a hostile (or broken) relay answering 1 GB of JSON — or
 * a never-ending stream — must not be buffered whole by a phone or a browser tab. Each answer is
 * refused with a DecodeError as soon as it passes its route's bound, and the rest is not read.
 */
import { DecodeError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { RelayApi, RelayError } from '../src/api.js';
import { MAX_ANSWER_BYTES, MAX_BACKUP_ANSWER_BYTES, MAX_QUEUE_ANSWER_BYTES } from '../src/relay-answer.js';

const CHUNK = 64 * 1024;

/** An endless JSON-looking body; counts the bytes the client pulled from it. */
function endless(status = 200) {
  const pulled = { bytes: 0, cancelled: false };
  const chunk = new TextEncoder().encode(`{"x":"${'a'.repeat(CHUNK - 6)}`);
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled.bytes += chunk.length;
      controller.enqueue(chunk.slice());
    },
    cancel() {
      pulled.cancelled = true;
    },
  });
  return {
    pulled,
    response: new Response(body, { status, headers: { 'content-type': 'application/json' } }),
  };
}

function apiAnswering(make: () => Response) {
  return new RelayApi('http://relay.invalid', { token: 't', fetch: async () => make() });
}

describe('relay answers are bounded', () => {
  const cases: [string, (api: RelayApi) => Promise<unknown>, number, number][] = [
    ['a small answer (prekey status)', (api) => api.preKeyStatus(), MAX_ANSWER_BYTES, 200],
    ['an error answer', (api) => api.preKeyStatus(), MAX_ANSWER_BYTES, 500],
    ['the message queue', (api) => api.fetchQueued(), MAX_QUEUE_ANSWER_BYTES, 200],
    ['a backup', (api) => api.getBackup('alice'), MAX_BACKUP_ANSWER_BYTES, 200],
  ];
  it.each(cases)(
    '%s: an endless body is a DecodeError after at most its bound is read',
    async (_, call, bound, status) => {
      const { pulled, response } = endless(status);
      const err = await call(apiAnswering(() => response)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DecodeError);
      expect(String(err)).toContain('longer');
      // The stream may run at most one chunk (plus the stream's one-chunk read-ahead) past the bound.
      expect(pulled.bytes).toBeLessThanOrEqual(bound + 2 * CHUNK);
      expect(pulled.cancelled).toBe(true);
    },
  );

  it('a Content-Length over the bound is refused before any of the body is read', async () => {
    const { pulled, response } = endless();
    const big = new Response(response.body, { headers: { 'content-length': String(2 ** 30) } });
    await expect(apiAnswering(() => big).preKeyStatus()).rejects.toBeInstanceOf(DecodeError);
    expect(pulled.bytes).toBeLessThanOrEqual(2 * CHUNK); // at most the stream's own read-ahead
    expect(pulled.cancelled).toBe(true);
  });

  it('answers within the bound are read as before, errors keep their RelayError', async () => {
    const counts = { preKeys: 3, kyberPreKeys: 2, low: false };
    const ok = apiAnswering(() => new Response(JSON.stringify(counts)));
    expect(await ok.preKeyStatus()).toEqual(counts);
    const refused = apiAnswering(
      () => new Response(JSON.stringify({ error: 'unauthorized', message: 'no' }), { status: 401 }),
    );
    const err = await refused.preKeyStatus().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RelayError);
    expect(err).toMatchObject({ status: 401, code: 'unauthorized' });
  });

  it('an answer in one-byte chunks, and one past the first 64 KiB buffer, read back exactly', async () => {
    const counts = { preKeys: 7, kyberPreKeys: 1, low: true, pad: 'p'.repeat(200 * 1024) };
    const bytes = new TextEncoder().encode(JSON.stringify(counts));
    const bytewise = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          start(controller) {
            for (const b of bytes.subarray(0, 1000)) controller.enqueue(Uint8Array.of(b));
            controller.enqueue(bytes.slice(1000));
            controller.close();
          },
        }),
      );
    expect(await apiAnswering(bytewise).preKeyStatus()).toEqual(counts);
  });

  it("a relay's error code and message are cut short before they reach the page", async () => {
    const long = { error: 'e'.repeat(100_000), message: 'm'.repeat(900_000) };
    const api = apiAnswering(() => new Response(JSON.stringify(long), { status: 400 }));
    const err = (await api.preKeyStatus().catch((e: unknown) => e)) as RelayError;
    expect(err).toBeInstanceOf(RelayError);
    expect(err.code).toBe('e'.repeat(64));
    expect(err.message).toBe(`relay answered 400 ${'e'.repeat(64)}: ${'m'.repeat(300)}`);
  });
});
