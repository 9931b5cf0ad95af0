// Test helpers (not part of the package).
export function pattern(length: number, mul = 7, add = 3): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * mul + add) & 0xff;
  return out;
}

export async function collect(
  it: AsyncIterable<Uint8Array>,
): Promise<{ chunks: Uint8Array[]; error: unknown }> {
  const chunks: Uint8Array[] = [];
  try {
    for await (const c of it) chunks.push(c);
    return { chunks, error: undefined };
  } catch (error) {
    return { chunks, error };
  }
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Offsets of a v1 file: header 92 bytes, then the slot section, then chunks of `chunkSize + 16`. */
export function layout(file: Uint8Array, chunkSize: number) {
  const count = file[92]!;
  let o = 93;
  for (let i = 0; i < count; i++) o += 3 + ((file[o + 1]! << 8) | file[o + 2]!);
  const payloadStart = o + 32;
  const chunks: Array<[number, number]> = [];
  for (let s = payloadStart; s < file.length; s += chunkSize + 16) {
    chunks.push([s, Math.min(file.length, s + chunkSize + 16)]);
  }
  return { slotStart: 92, slotEnd: payloadStart, payloadStart, chunks };
}
