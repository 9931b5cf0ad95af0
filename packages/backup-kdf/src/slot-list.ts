/**
 * A keyring's slots. The list is replaced on every change, never changed in place: a change computed
 * over an await (a password change runs Argon2) lands only if the list is still the one it read, and
 * a stream encodes the list it started with.
 */
import { SlotsChangedError } from './errors.js';
import { MAX_SLOTS, type SlotBody } from './format.js';

export class SlotList {
  #slots: readonly SlotBody[];

  constructor(slots: readonly SlotBody[]) {
    this.#slots = slots;
  }

  get current(): readonly SlotBody[] {
    return this.#slots;
  }

  /** Appends to the list as it is now (an add undoes no change that landed during its KDF). */
  add(slot: SlotBody): void {
    if (this.#slots.length >= MAX_SLOTS) throw new RangeError(`a backup has at most ${MAX_SLOTS} slots`);
    this.#slots = [...this.#slots, slot];
  }

  /** Removes the slots `match` selects; refused if none would remain. Returns how many went. */
  remove(match: (s: SlotBody) => boolean): number {
    const kept = this.#slots.filter((s) => !match(s));
    if (kept.length === 0) throw new RangeError('cannot remove the last way to unlock the backup');
    const removed = this.#slots.length - kept.length;
    this.#slots = kept;
    return removed;
  }

  /**
   * `slot` in place of the password slot (or added), only onto `read`: if the list changed since
   * (another change finished first), `SlotsChangedError` and nothing changes — written regardless,
   * that other change's caller would have been told its password is set and then lost it.
   */
  replacePassword(read: readonly SlotBody[], slot: SlotBody): void {
    if (this.#slots !== read) throw new SlotsChangedError();
    const i = read.findIndex((s) => s.type === 'password');
    if (i >= 0) this.#slots = read.map((s, j) => (j === i ? slot : s));
    else this.add(slot);
  }
}
