/**
 * Sealed sender v2 for many recipients: the client encrypts once (a SentMessage, `0x23`), the server
 * splits it into one ReceivedMessage per recipient account without learning anything else.
 *
 * SentMessage: `0x23 ‖ varint count ‖ entry* ‖ E (32) ‖ GCM-SIV(K, USMC)`, where an entry is
 * `ServiceId (17) ‖ device record+ ‖ C (32) ‖ AT (16)` for a recipient, or `ServiceId ‖ 0x00` for an
 * excluded one; a device record is `deviceId (1) ‖ u16 BE (bit 15: another record follows; bits
 * 0–13: registration id)`. Legacy `0x22` SentMessages carry 16-byte ACI UUIDs instead of ServiceIds.
 */
import {
  assertBytes,
  type CryptoProvider,
  DecodeError,
  encodeVarint,
  type KeyPair,
  MAX_DEVICE_ID,
  type PublicKey,
} from '@e2ee-kit/core';
import {
  MAX_REGISTRATION_ID,
  SEALED_SENDER_V2_SERVICE_ID_VERSION,
  SEALED_SENDER_V2_UUID_VERSION,
  SEALED_SENDER_V2_VERSION,
  V2_AEAD_TAG_LENGTH,
  V2_AUTH_TAG_LENGTH,
  V2_MESSAGE_KEY_LENGTH,
  V2_PUBLIC_KEY_LENGTH,
} from './constants.js';
import { serializedContent, type UnidentifiedSenderMessageContent } from './content.js';
import { SealedSenderVersionError } from './errors.js';
import { redact } from './redact.js';
import {
  formatUuid,
  normalizeServiceId,
  SERVICE_ID_FIXED_WIDTH_LENGTH,
  serviceIdFromFixedWidth,
  serviceIdToFixedWidth,
} from './service-id.js';
import { allRecipientKeyMaterial, deriveV2Keys, sharedPart } from './v2.js';
import { checkInputLength, checkSealedLength, ownPublicKey } from './wire.js';

const KEY_MATERIAL_LENGTH = V2_MESSAGE_KEY_LENGTH + V2_AUTH_TAG_LENGTH;

/** One recipient account and the devices of it that should receive the message. */
export interface MultiRecipient {
  /** ACI (a UUID) or `PNI:` + UUID. */
  readonly serviceId: string;
  /** The account's identity key (from your identity store). */
  readonly identityKey: PublicKey;
  /** At least one device: its id (1..127) and registration id (0..0x3FFF, from the session). */
  readonly devices: ReadonlyArray<{ readonly deviceId: number; readonly registrationId: number }>;
}

export interface MultiRecipientDevices {
  readonly deviceIds: readonly number[];
  readonly registrationIds: readonly number[];
}

/** One recipient as validated: a copy, so a caller changing its objects mid-seal changes nothing. */
interface CheckedRecipient {
  readonly id: Uint8Array;
  readonly identityKey: PublicKey;
  readonly deviceIds: readonly number[];
  readonly registrationIds: readonly number[];
}

function checkRecipient(r: MultiRecipient, i: number): CheckedRecipient {
  if (r === null || typeof r !== 'object') throw new TypeError(`recipients[${i}] must be an object`);
  const id = serviceIdToFixedWidth(r.serviceId);
  const { devices } = r;
  const identityKey = ownPublicKey(r.identityKey, `recipients[${i}].identityKey`);
  if (!Array.isArray(devices) || devices.length === 0)
    throw new RangeError(`recipients[${i}].devices must list at least one device`);
  const deviceIds: number[] = [];
  const registrationIds: number[] = [];
  for (const d of devices) {
    if (d === null || typeof d !== 'object') throw new TypeError('a device must be an object');
    const { deviceId, registrationId } = d;
    if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > MAX_DEVICE_ID)
      throw new RangeError(`deviceId must be 1..${MAX_DEVICE_ID}`);
    if (!Number.isInteger(registrationId) || registrationId < 0 || registrationId > MAX_REGISTRATION_ID)
      throw new RangeError(`registrationId must be 0..${MAX_REGISTRATION_ID}`);
    deviceIds.push(deviceId);
    registrationIds.push(registrationId);
  }
  return { id, identityKey, deviceIds, registrationIds };
}

/**
 * A ServiceId listed again under another identity key: the server joins its listings into one
 * recipient and hands every device the first listing's key material, so the later listing's devices
 * could never open their copy. (libsignal reads each account's key from its identity store, so its
 * listings of one account always share a key.) Refused before any key agreement.
 */
function refuseConflictingListings(checked: readonly CheckedRecipient[]): void {
  const keys = new Map<string, CheckedRecipient['identityKey']>();
  checked.forEach((r, i) => {
    const k = String.fromCharCode(...r.id);
    const first = keys.get(k);
    if (first === undefined) keys.set(k, r.identityKey);
    else if (!first.equals(r.identityKey))
      throw new RangeError(`recipients[${i}] lists a ServiceId again with another identity key`);
  });
}

/**
 * The server's split (libsignal's and ours) refuses a SentMessage naming a ServiceId both as a
 * recipient and as excluded, or excluded twice ("recipient redundantly encoded as empty"): refused
 * here, before any key agreement, instead of sealing a message that can never be sent. (A recipient
 * listed twice is valid: its devices are joined.)
 */
function refuseRedundantExclusions(checked: readonly CheckedRecipient[], excludedIds: Uint8Array[]): void {
  const key = (id: Uint8Array) => String.fromCharCode(...id);
  const seen = new Set(checked.map((r) => key(r.id)));
  excludedIds.forEach((id, i) => {
    const k = key(id);
    if (seen.has(k)) throw new RangeError(`excluded[${i}] is a recipient or excluded twice`);
    seen.add(k);
  });
}

/**
 * Consecutive listings of one ServiceId as one entry, their devices in order: the layout libsignal
 * writes for the same list (it groups consecutive addresses by name), and one ServiceId and `C ‖ AT`
 * (65 bytes) per account instead of per listing, for an app that lists each device on its own. The
 * split reads both layouts alike; listings apart stay apart, as in libsignal.
 */
function joinConsecutiveListings(checked: readonly CheckedRecipient[]): CheckedRecipient[] {
  const out: CheckedRecipient[] = [];
  let last:
    | { id: Uint8Array; identityKey: PublicKey; deviceIds: number[]; registrationIds: number[] }
    | undefined;
  for (const r of checked) {
    if (last !== undefined && last.id.every((b, i) => b === r.id[i])) {
      // Same key: a listing of this ServiceId under another key was refused before.
      for (let j = 0; j < r.deviceIds.length; j++) {
        last.deviceIds.push(r.deviceIds[j] as number);
        last.registrationIds.push(r.registrationIds[j] as number);
      }
    } else {
      last = { ...r, deviceIds: [...r.deviceIds], registrationIds: [...r.registrationIds] };
      out.push(last);
    }
  }
  return out;
}

/** Encrypts `content` once for every recipient device (libsignal's `sealedSenderMultiRecipientEncrypt`). */
export async function sealMultiRecipientMessage(
  content: UnidentifiedSenderMessageContent,
  sender: KeyPair,
  recipients: readonly MultiRecipient[],
  excluded: readonly string[],
  provider: CryptoProvider,
  messageKey?: Uint8Array,
): Promise<Uint8Array> {
  if (!Array.isArray(recipients)) throw new TypeError('recipients must be an array');
  if (!Array.isArray(excluded)) throw new TypeError('excluded must be an array of ServiceIds');
  // Everything is read here, once, before the first await: the caller's arrays and objects may
  // change while the key agreements run, and what was validated is what gets written.
  // (`Array.from`, not `map`: a hole in a sparse array is checked as `undefined`, not skipped.)
  const listings = Array.from(recipients, checkRecipient);
  const excludedIds = Array.from(excluded, (s) => serviceIdToFixedWidth(s));
  refuseRedundantExclusions(listings, excludedIds);
  refuseConflictingListings(listings);
  const checked = joinConsecutiveListings(listings);
  const count = encodeVarint(checked.length + excludedIds.length);
  let size =
    1 +
    count.length +
    V2_PUBLIC_KEY_LENGTH +
    serializedContent(content).length +
    V2_AEAD_TAG_LENGTH +
    excludedIds.length * (SERVICE_ID_FIXED_WIDTH_LENGTH + 1);
  for (const r of checked)
    size += SERVICE_ID_FIXED_WIDTH_LENGTH + 3 * r.deviceIds.length + KEY_MATERIAL_LENGTH;
  checkSealedLength(size); // before any key agreement
  const m = messageKey ?? provider.randomBytes(V2_MESSAGE_KEY_LENGTH);
  const keys = await deriveV2Keys(m, provider);
  // Two key agreements per account, a bounded number of accounts at a time (v2.ts).
  const material = await allRecipientKeyMaterial(
    m,
    keys,
    sender,
    checked.map((r) => r.identityKey),
    provider,
  );
  const shared = sharedPart(content, keys);
  const out = new Uint8Array(size);
  out[0] = SEALED_SENDER_V2_SERVICE_ID_VERSION;
  out.set(count, 1);
  let o = 1 + count.length;
  checked.forEach((r, i) => {
    out.set(r.id, o);
    o += SERVICE_ID_FIXED_WIDTH_LENGTH;
    const last = r.deviceIds.length - 1;
    for (let j = 0; j <= last; j++) {
      const word = (r.registrationIds[j] as number) | (j < last ? 0x8000 : 0);
      out[o++] = r.deviceIds[j] as number;
      out[o++] = word >>> 8;
      out[o++] = word & 0xff;
    }
    out.set(material[i] as Uint8Array, o);
    o += KEY_MATERIAL_LENGTH;
  });
  for (const sid of excludedIds) {
    out.set(sid, o);
    o += SERVICE_ID_FIXED_WIDTH_LENGTH + 1; // the device-id byte 0 marks "excluded"
  }
  out.set(shared, o);
  return out;
}

interface Entry {
  deviceIds: number[];
  registrationIds: number[];
  /** Offset of `C ‖ AT` in the message, or -1 for an excluded recipient. */
  keyMaterial: number;
}

const INTERNAL = Symbol('internal');
const EXCLUDED: Entry = Object.freeze({
  deviceIds: Object.freeze([]) as unknown as number[],
  registrationIds: Object.freeze([]) as unknown as number[],
  keyMaterial: -1,
});

/**
 * A parsed SentMessage, for the server: who receives it, who was deliberately excluded, and the
 * ReceivedMessage for each recipient (the same bytes for all devices of one account). The server
 * learns recipients and sizes, never the sender or the content.
 */
export class SealedSenderMultiRecipientMessage {
  /** `0x23` (ServiceIds) or legacy `0x22` (ACI UUIDs). */
  readonly version: number;
  readonly #bytes: Uint8Array;
  readonly #entries: Map<string, Entry>;
  readonly #sharedOffset: number;

  private constructor(
    token: typeof INTERNAL,
    version: number,
    bytes: Uint8Array,
    entries: Map<string, Entry>,
    shared: number,
  ) {
    if (token !== INTERNAL) throw new TypeError('use SealedSenderMultiRecipientMessage.parse');
    this.version = version;
    this.#bytes = bytes;
    this.#entries = entries;
    this.#sharedOffset = shared;
    Object.freeze(this);
  }

  /**
   * Parses a SentMessage with libsignal's rules (spec §4.4); a copy of the input is kept. Malformed
   * input is a `DecodeError` (`SealedSenderVersionError` for the version byte); the work is linear in
   * the input, whatever recipient count it claims.
   */
  static parse(message: Uint8Array): SealedSenderMultiRecipientMessage {
    assertBytes(message, 'message');
    checkInputLength(message, 'multi-recipient message');
    if (message.length === 0) throw new DecodeError('invalid sealed sender message: Message was empty');
    const version = message[0] as number;
    if (version !== SEALED_SENDER_V2_SERVICE_ID_VERSION && version !== SEALED_SENDER_V2_UUID_VERSION)
      throw new SealedSenderVersionError(version);
    const bytes = new Uint8Array(message); // a plain copy: never read the caller's memory twice
    const idLength = version === SEALED_SENDER_V2_UUID_VERSION ? 16 : SERVICE_ID_FIXED_WIDTH_LENGTH;
    let o = 1;
    const need = (n: number): void => {
      if (bytes.length - o < n) throw new DecodeError('multi-recipient message is truncated');
    };
    // Recipient count: a varint of at most 10 bytes that fits in 32 bits. libsignal (prost's
    // `decode_length_delimiter`) then skips only the canonical length of the value, not the bytes
    // it read, so a padded varint shifts the rest; we do the same to split exactly as it does.
    let count = 0;
    for (let i = 0, p = o, mul = 1; ; i++, mul *= 128) {
      if (p >= bytes.length) throw new DecodeError('multi-recipient message is truncated');
      const b = bytes[p++] as number;
      count += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) break;
      if (i === 9) throw new DecodeError('multi-recipient count varint is too long');
    }
    if (count > 0xffffffff) throw new DecodeError('multi-recipient count is out of range');
    o += encodeVarint(count).length;
    // Each entry takes at least idLength + 1 bytes and E must follow: refuse an impossible count up front.
    if (count * (idLength + 1) + V2_PUBLIC_KEY_LENGTH > bytes.length - o)
      throw new DecodeError('multi-recipient message is truncated');
    const entries = new Map<string, Entry>();
    for (let n = 0; n < count; n++) {
      need(idLength);
      const id =
        version === SEALED_SENDER_V2_UUID_VERSION ? formatUuid(bytes, o) : serviceIdFromFixedWidth(bytes, o);
      o += idLength;
      const deviceIds: number[] = [];
      const registrationIds: number[] = [];
      for (;;) {
        need(1);
        const deviceId = bytes[o++] as number;
        if (deviceId === 0) {
          if (deviceIds.length > 0) throw new DecodeError('multi-recipient device id 0 after a device');
          break;
        }
        if (deviceId > MAX_DEVICE_ID) throw new DecodeError('multi-recipient device id out of range');
        need(2);
        const word = ((bytes[o] as number) << 8) | (bytes[o + 1] as number);
        o += 2;
        deviceIds.push(deviceId);
        registrationIds.push(word & MAX_REGISTRATION_ID);
        if ((word & 0x8000) === 0) break;
      }
      let keyMaterial = -1;
      if (deviceIds.length > 0) {
        need(KEY_MATERIAL_LENGTH);
        keyMaterial = o;
        o += KEY_MATERIAL_LENGTH;
      }
      const existing = entries.get(id);
      // An excluded entry is never appended to (a repeat is refused below): it shares one empty list.
      if (existing === undefined)
        entries.set(id, keyMaterial < 0 ? EXCLUDED : { deviceIds, registrationIds, keyMaterial });
      else {
        if (existing.keyMaterial < 0 || keyMaterial < 0)
          throw new DecodeError('invalid sealed sender message: recipient redundantly encoded as empty');
        // As libsignal: devices are appended, the first C ‖ AT is kept. One at a time: `push(...list)`
        // passes each device as an argument, and a repeat listing ~130,000 of them overflows the stack.
        for (let i = 0; i < deviceIds.length; i++) {
          existing.deviceIds.push(deviceIds[i] as number);
          existing.registrationIds.push(registrationIds[i] as number);
        }
      }
    }
    if (bytes.length - o < V2_PUBLIC_KEY_LENGTH)
      throw new DecodeError('multi-recipient message is truncated');
    return new SealedSenderMultiRecipientMessage(INTERNAL, version, bytes, entries, o);
  }

  /** Recipients by ServiceId string (ACI, or `PNI:…`), in message order, with their devices. */
  recipients(): ReadonlyMap<string, MultiRecipientDevices> {
    const out = new Map<string, MultiRecipientDevices>();
    for (const [id, e] of this.#entries)
      if (e.keyMaterial >= 0)
        out.set(id, Object.freeze({ deviceIds: [...e.deviceIds], registrationIds: [...e.registrationIds] }));
    return out;
  }

  /** ServiceIds the sender deliberately excluded (e.g. group members it is not sending to). */
  excludedRecipients(): readonly string[] {
    return [...this.#entries].filter(([, e]) => e.keyMaterial < 0).map(([id]) => id);
  }

  /**
   * The ReceivedMessage for one recipient account (`0x22 ‖ C ‖ AT ‖ E ‖ ciphertext`), the same bytes
   * for each of its devices. `RangeError` if `serviceId` is not a recipient of this message.
   */
  messageForRecipient(serviceId: string): Uint8Array {
    const e = this.#entries.get(normalizeServiceId(serviceId));
    if (e === undefined || e.keyMaterial < 0) throw new RangeError('not a recipient of this message');
    return this.#received(e);
  }

  #received(e: Entry): Uint8Array {
    const shared = this.#bytes.subarray(this.#sharedOffset);
    const material = e.keyMaterial < 0 ? 0 : KEY_MATERIAL_LENGTH;
    const out = new Uint8Array(1 + material + shared.length);
    out[0] = SEALED_SENDER_V2_VERSION;
    if (e.keyMaterial >= 0)
      out.set(this.#bytes.subarray(e.keyMaterial, e.keyMaterial + KEY_MATERIAL_LENGTH), 1);
    out.set(shared, 1 + material);
    return out;
  }

  /** libsignal's `sealedSenderMultiRecipientMessageForSingleRecipient`: requires exactly one entry. */
  static forSingleRecipient(message: Uint8Array): Uint8Array {
    const parsed = SealedSenderMultiRecipientMessage.parse(message);
    if (parsed.#entries.size !== 1)
      throw new DecodeError('invalid argument: only supports messages with exactly one recipient');
    return parsed.#received(parsed.#entries.values().next().value as Entry);
  }
}
redact(SealedSenderMultiRecipientMessage.prototype, 'SealedSenderMultiRecipientMessage');
