/**
 * Display names ↔ ServiceIds. People pick contacts by name; everything cryptographic (sessions,
 * identity keys, the ratchet's `addresses` binding, sealed-sender certificates) is addressed by the
 * contact's ServiceId (ACI), a random UUID the relay assigns at registration and keeps across
 * re-registrations. Each binding is learned from the relay's directory once and pinned in the
 * client's storage: a relay that later answers another ServiceId for a known name (or another name
 * for a known ServiceId) is refused (`DirectoryMismatchError`) instead of silently re-pointing a
 * conversation.
 */
import { type RelayApi, RelayError } from './api.js';
import type { ChatData } from './app-data.js';

/** The app rows of the pinned bindings (a backup carries them with the peers). */
export const DIRECTORY_KEYS = {
  byName: (name: string) => `directory:name:${name}`,
  byAci: (aci: string) => `directory:aci:${aci}`,
} as const;
const { byName, byAci } = DIRECTORY_KEYS;

/** The relay's directory contradicts a binding this client pinned earlier. */
export class DirectoryMismatchError extends Error {
  readonly code = 'directory_mismatch';
  constructor(what: 'name' | 'serviceId') {
    super(
      what === 'name'
        ? 'the relay now names another account for a contact this client already knows'
        : 'the relay now gives another name for an account this client already knows',
    );
    this.name = 'DirectoryMismatchError';
  }
}

/** An envelope names a ServiceId the relay's directory does not know (a deleted or made-up account). */
export class UnknownServiceIdError extends Error {
  readonly code = 'unknown_service_id';
  constructor() {
    super('the sender is not in the relay directory');
    this.name = 'UnknownServiceIdError';
  }
}

/** Directory answers that make an envelope undeliverable for good: drop it (with a note), do not retry. */
export const isDirectoryRefusal = (err: unknown): err is DirectoryMismatchError | UnknownServiceIdError =>
  err instanceof DirectoryMismatchError || err instanceof UnknownServiceIdError;

export class ContactDirectory {
  constructor(readonly api: RelayApi) {}

  async #pin(tx: ChatData, entry: { aci: string; name: string }): Promise<void> {
    const knownAci = await tx.json<string>(byName(entry.name));
    const knownName = await tx.json<string>(byAci(entry.aci));
    if (knownAci !== undefined && knownAci !== entry.aci) throw new DirectoryMismatchError('name');
    if (knownName !== undefined && knownName !== entry.name) throw new DirectoryMismatchError('serviceId');
    if (knownAci === undefined) await tx.putJson(byName(entry.name), entry.aci);
    if (knownName === undefined) await tx.putJson(byAci(entry.aci), entry.name);
  }

  /** Records our own binding (from the registration answer). */
  async pinSelf(tx: ChatData, entry: { aci: string; name: string }): Promise<void> {
    await this.#pin(tx, entry);
  }

  /** The ServiceId of the account called `name` (pinned, or asked of the relay once). */
  async aciOf(tx: ChatData, name: string): Promise<string> {
    const known = await tx.json<string>(byName(name));
    if (known !== undefined) return known;
    const entry = await this.api.lookupName(name);
    if (entry.name !== name) throw new DirectoryMismatchError('name');
    await this.#pin(tx, entry);
    return entry.aci;
  }

  /** The display name of the account `aci` (pinned, or asked of the relay once). */
  async nameOf(tx: ChatData, aci: string): Promise<string> {
    const known = await tx.json<string>(byAci(aci));
    if (known !== undefined) return known;
    let entry: { aci: string; name: string };
    try {
      entry = await this.api.lookupServiceId(aci);
    } catch (err) {
      if (err instanceof RelayError && err.status === 404) throw new UnknownServiceIdError();
      throw err;
    }
    if (entry.aci !== aci) throw new DirectoryMismatchError('serviceId');
    await this.#pin(tx, entry);
    return entry.name;
  }
}
