/** Byte sources and sinks: `ReadableStream`, `AsyncIterable`, `Iterable` or one `Uint8Array` in; a one-shot stream out. */
import { copyBytes, DecodeError, redact } from '@e2ee-kit/core';

/**
 * Empty pieces a source may yield in a row before reading gives up with a `DecodeError`. Web streams
 * may enqueue empty chunks and some wrappers pass them through; a run this long is a stalled or
 * hostile source, which would otherwise keep the reader pulling for ever. Data resets the count.
 */
export const MAX_EMPTY_PIECES_IN_A_ROW = 1024;

/** Anything this package can read bytes from. Node streams are `AsyncIterable<Uint8Array>` too. */
export type ByteSource =
  | ReadableStream<Uint8Array>
  | AsyncIterable<Uint8Array>
  | Iterable<Uint8Array>
  | Uint8Array;

function iteratorOf(source: ByteSource): AsyncIterator<Uint8Array> | Iterator<Uint8Array> {
  if (source instanceof Uint8Array) return [source][Symbol.iterator]();
  if (source !== null && typeof source === 'object') {
    // getReader first: not every ReadableStream is async-iterable (Safari).
    const rs = source as ReadableStream<Uint8Array>;
    if (typeof rs.getReader === 'function') {
      const reader = rs.getReader();
      return {
        next: async () => {
          const r = await reader.read();
          return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
        },
        return: async () => {
          await reader.cancel().catch(() => {});
          reader.releaseLock();
          return { done: true, value: undefined };
        },
      };
    }
    const ai = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator];
    if (typeof ai === 'function') return ai.call(source);
    const si = (source as Iterable<Uint8Array>)[Symbol.iterator];
    if (typeof si === 'function') return si.call(source);
  }
  throw new TypeError('source must be a Uint8Array, a ReadableStream, or an (async) iterable of Uint8Array');
}

/**
 * Pulls exact-size reads out of a source of arbitrarily sized pieces.
 *
 * Sources may reuse their buffer once the next piece is requested (common for file readers and
 * hand-written generators): before asking for more, the reader copies whatever it still holds of
 * a piece it does not own, so every byte is copied at most once when reads line up with pieces.
 */
export class ByteReader {
  readonly #it: AsyncIterator<Uint8Array> | Iterator<Uint8Array>;
  readonly #queue: Uint8Array[] = [];
  /** Parallel to #queue: true when the piece is our own copy (safe to hand out as a view). */
  readonly #owned: boolean[] = [];
  #offset = 0; // into #queue[0]
  #buffered = 0;
  #done = false;

  constructor(source: ByteSource) {
    this.#it = iteratorOf(source);
  }

  #protectRetained(): void {
    for (let i = 0; i < this.#queue.length; i++) {
      if (this.#owned[i]) continue;
      const start = i === 0 ? this.#offset : 0;
      this.#queue[i] = copyBytes(this.#queue[i]!, start);
      this.#owned[i] = true;
      if (i === 0) this.#offset = 0;
    }
  }

  async #fill(n: number): Promise<void> {
    let empty = 0;
    while (this.#buffered < n && !this.#done) {
      this.#protectRetained();
      const r = await this.#it.next();
      if (r.done) {
        this.#done = true;
        break;
      }
      const piece = r.value;
      if (!(piece instanceof Uint8Array))
        throw new TypeError('source yielded a value that is not a Uint8Array');
      if (piece.length === 0) {
        if (++empty >= MAX_EMPTY_PIECES_IN_A_ROW)
          throw new DecodeError(`source yielded ${MAX_EMPTY_PIECES_IN_A_ROW} empty pieces in a row`);
        continue;
      }
      empty = 0;
      this.#queue.push(piece);
      this.#owned.push(false);
      this.#buffered += piece.length;
    }
  }

  #advance(take: number): void {
    this.#offset += take;
    this.#buffered -= take;
    if (this.#offset === this.#queue[0]!.length) {
      this.#queue.shift();
      this.#owned.shift();
      this.#offset = 0;
    }
  }

  /** Up to `n` bytes (fewer only at the end). The caller may keep them: nothing writes to them later. */
  async read(n: number): Promise<Uint8Array> {
    if (this.#buffered === 0) await this.#fill(1);
    if (this.#buffered === 0 || n === 0) return new Uint8Array(0);
    const head = this.#queue[0]!;
    const start = this.#offset;
    if (head.length - start >= n) {
      // One piece holds it all: a view of our own copy, or one copy of the source's bytes.
      const view = this.#owned[0] ? head.subarray(start, start + n) : copyBytes(head, start, start + n);
      this.#advance(n);
      return view;
    }
    const out = new Uint8Array(n);
    const len = await this.readInto(out);
    return len === n ? out : out.subarray(0, len);
  }

  /**
   * Fills `target` (fewer bytes only at the end); returns how many bytes were written. What is
   * buffered is consumed before more is pulled, so nothing is left over for `#protectRetained` to
   * copy a second time.
   */
  async readInto(target: Uint8Array): Promise<number> {
    const n = target.length;
    let o = 0;
    while (o < n) {
      if (this.#buffered === 0) {
        await this.#fill(1);
        if (this.#buffered === 0) break;
      }
      const head = this.#queue[0]!;
      const start = this.#offset;
      const take = Math.min(n - o, head.length - start);
      target.set(head.subarray(start, start + take), o);
      o += take;
      this.#advance(take);
    }
    return o;
  }

  /**
   * Fills `target` and tells whether any byte follows (so a chunked reader knows which chunk is the
   * last). Reusing `target` across calls avoids an allocation per chunk.
   */
  async readIntoWithLookahead(target: Uint8Array): Promise<{ length: number; more: boolean }> {
    const length = await this.readInto(target);
    await this.#fill(1);
    return { length, more: this.#buffered > 0 };
  }

  /** The next `n` bytes (fewer at the end) without consuming them. */
  async peek(n: number): Promise<Uint8Array> {
    await this.#fill(n);
    const len = Math.min(n, this.#buffered);
    const out = new Uint8Array(len);
    let o = 0;
    let off = this.#offset;
    for (const piece of this.#queue) {
      if (o >= len) break;
      const take = Math.min(len - o, piece.length - off);
      out.set(piece.subarray(off, off + take), o);
      o += take;
      off = 0;
    }
    return out;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    await this.#fill(1);
    return this.#buffered === 0;
  }

  /** Stops reading and releases the source (for early exits). */
  async close(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#queue.length = 0;
    this.#owned.length = 0;
    this.#buffered = 0;
    await this.#it.return?.();
  }
}
redact(ByteReader, '[ByteReader]');

/**
 * A one-shot stream of output bytes: iterate it (`for await`), turn it into a web `ReadableStream`,
 * or collect it. Consuming it twice is a `TypeError`.
 */
export class ByteStream implements AsyncIterable<Uint8Array> {
  #make: (() => AsyncGenerator<Uint8Array>) | undefined;

  constructor(make: () => AsyncGenerator<Uint8Array>) {
    this.#make = make;
  }

  #take(): AsyncGenerator<Uint8Array> {
    const make = this.#make;
    if (!make) throw new TypeError('this stream was already consumed');
    this.#make = undefined;
    return make();
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return this.#take();
  }

  /** A web `ReadableStream` (needs a global `ReadableStream`: browsers, Node ≥ 18, Deno, Bun). */
  toReadableStream(): ReadableStream<Uint8Array> {
    const RS = (globalThis as { ReadableStream?: typeof ReadableStream }).ReadableStream;
    if (typeof RS !== 'function') throw new TypeError('ReadableStream is not available in this runtime');
    const it = this.#take();
    return new RS<Uint8Array>(
      {
        async pull(controller) {
          try {
            const r = await it.next();
            if (r.done) controller.close();
            else controller.enqueue(r.value);
          } catch (err) {
            controller.error(err);
          }
        },
        async cancel() {
          await it.return(undefined);
        },
      },
      { highWaterMark: 1 },
    );
  }

  /** Everything in one array (fine for small backups; stream big ones). */
  async bytes(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    let total = 0;
    // The iterator itself, not `for await`: engines without `Symbol.asyncIterator` (Hermes 0.12) run this too.
    const it = this.#take();
    for (let r = await it.next(); !r.done; r = await it.next()) {
      parts.push(r.value);
      total += r.value.length;
    }
    const out = new Uint8Array(total);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}
redact(ByteStream, '[ByteStream]');
