/**
 * Groups with consent: who may add this user to a group, the contacts that setting refers to, and
 * the invitations an add from anyone else becomes.
 *
 * Membership lives only in end-to-end encrypted content (a group announcement from the group's
 * admin, read over the 1:1 session), so this is enforced by the receiving client: the relay cannot
 * add anyone, and an adder the user did not allow only produces an invitation, which the user
 * accepts or declines. Until then the client keeps no group state, processes none of the group's
 * sender keys and sends none of its own.
 *
 * Contacts are the people this user added (an explicit list), never the relay's directory.
 * Everything is kept in the client's app rows, inside the running operation's transaction.
 */
import type { ChatData } from './app-data.js';
import type { GroupInfo } from './content.js';

/** Who may add this user to a group without asking (WhatsApp's privacy setting of the same name). */
export type WhoCanAddMe = 'everyone' | 'contacts' | { readonly contactsExcept: readonly string[] };

/** As WhatsApp's default "My contacts". */
export const DEFAULT_WHO_CAN_ADD_ME: WhoCanAddMe = 'contacts';

/** An invitation can be accepted for three days after it arrived. */
export const INVITATION_LIFETIME_MS = 3 * 24 * 60 * 60 * 1000;
/**
 * Pending invitations one inviter may have with us, and in all. Anyone with a session can announce
 * any number of groups, each a new invitation in one row rewritten on every write and listed to the
 * user: past a cap a new announcement is ignored (an update of a held invitation is still taken).
 */
export const MAX_INVITATIONS_PER_INVITER = 5;
export const MAX_INVITATIONS = 50;

export interface Invitation {
  /** The group as its admin announced it (id, title, admin, members). */
  readonly group: GroupInfo;
  readonly inviter: string;
  readonly receivedAt: number;
  readonly expiresAt: number;
}

/** The app rows of this module (all of them are part of a backup). */
export const CONSENT_KEYS = {
  whoCanAddMe: 'consent:who-can-add-me',
  contacts: 'consent:contacts',
  /** One JSON object: group id → invitation. */
  invitations: 'consent:invitations',
} as const;

export type InvitationErrorCode = 'unknown' | 'expired';

/** Accepting or declining an invitation that does not exist (any more) or has expired. */
export class InvitationError extends Error {
  readonly code: InvitationErrorCode;
  constructor(code: InvitationErrorCode) {
    super(code === 'expired' ? 'the invitation has expired' : 'there is no such invitation');
    this.name = 'InvitationError';
    this.code = code;
  }
}

const MAX_NAME = 32;
const MAX_CONTACTS = 1000;
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= MAX_NAME;

/** Checks a setting from the UI or from storage; throws a `TypeError` for anything else. */
export function checkWhoCanAddMe(v: unknown): WhoCanAddMe {
  if (v === 'everyone' || v === 'contacts') return v;
  if (v !== null && typeof v === 'object') {
    const except = (v as Record<string, unknown>)['contactsExcept'];
    if (Array.isArray(except) && except.length <= MAX_CONTACTS && except.every(isName))
      return { contactsExcept: [...new Set(except as string[])] };
  }
  throw new TypeError('whoCanAddMe must be "everyone", "contacts" or { contactsExcept: string[] }');
}

/** Whether `adder` may add a user with this setting and these contacts without an invitation. */
export function mayAdd(setting: WhoCanAddMe, contacts: readonly string[], adder: string): boolean {
  if (setting === 'everyone') return true;
  if (!contacts.includes(adder)) return false;
  return setting === 'contacts' || !setting.contactsExcept.includes(adder);
}

/** What to do with a group announcement that would add this user. */
export type AddDecision =
  | { readonly action: 'join' }
  | { readonly action: 'invite'; readonly invitation: Invitation }
  | { readonly action: 'ignore' };

type InvitationMap = Record<string, Invitation>;

/** The consent rows of one transaction. */
export class GroupConsent {
  constructor(
    readonly data: ChatData,
    readonly now: number,
  ) {}

  async whoCanAddMe(): Promise<WhoCanAddMe> {
    const stored = await this.data.json<unknown>(CONSENT_KEYS.whoCanAddMe);
    return stored === undefined ? DEFAULT_WHO_CAN_ADD_ME : checkWhoCanAddMe(stored);
  }

  async setWhoCanAddMe(setting: WhoCanAddMe): Promise<WhoCanAddMe> {
    const checked = checkWhoCanAddMe(setting);
    await this.data.putJson(CONSENT_KEYS.whoCanAddMe, checked);
    return checked;
  }

  contacts(): Promise<string[]> {
    return this.data.members(CONSENT_KEYS.contacts);
  }

  async addContact(name: string): Promise<void> {
    if (!isName(name)) throw new TypeError('a contact is an account name');
    const all = await this.contacts();
    if (!all.includes(name) && all.length >= MAX_CONTACTS) throw new RangeError('too many contacts');
    await this.data.addMember(CONSENT_KEYS.contacts, name);
  }

  removeContact(name: string): Promise<void> {
    return this.data.removeMember(CONSENT_KEYS.contacts, name);
  }

  /**
   * Takes the contact list and setting another device of our own account sent (a sync): both are
   * per account, so each device applies what the last one to change them sent. An invalid list or
   * setting changes nothing.
   */
  async applySync(contacts: readonly string[], whoCanAddMe: unknown): Promise<boolean> {
    if (contacts.length > MAX_CONTACTS || !contacts.every(isName)) return false;
    let setting: WhoCanAddMe;
    try {
      setting = checkWhoCanAddMe(whoCanAddMe);
    } catch {
      return false;
    }
    const unique = [...new Set(contacts)];
    if (unique.length === 0) await this.data.delete(CONSENT_KEYS.contacts);
    else await this.data.putJson(CONSENT_KEYS.contacts, unique);
    await this.data.putJson(CONSENT_KEYS.whoCanAddMe, setting);
    return true;
  }

  /** Pending invitations, oldest first; expired ones are left out (and pruned on the next write). */
  async invitations(): Promise<Invitation[]> {
    const all = Object.values(await this.#all());
    return all.filter((i) => i.expiresAt > this.now).sort((a, b) => a.receivedAt - b.receivedAt);
  }

  /**
   * Screens an announcement from the group's admin `from` that lists `me`: join when the setting
   * allows `from`, otherwise hold it as an invitation (an update of a pending one keeps its
   * received-at, so re-announcing cannot extend the three days). An announcement that no longer
   * lists `me` withdraws the pending invitation.
   */
  async screenAdd(me: string, group: GroupInfo, from: string): Promise<AddDecision> {
    const all = await this.#all();
    const held = Object.hasOwn(all, group.id) ? all[group.id] : undefined;
    // An expired invitation counts as none: a new announcement starts a new one.
    const pending = held && held.expiresAt > this.now ? held : undefined;
    if (pending && pending.inviter !== from) return { action: 'ignore' };
    if (!group.members.includes(me)) {
      if (pending) await this.#drop(all, group.id);
      return { action: 'ignore' };
    }
    if (!pending && mayAdd(await this.whoCanAddMe(), await this.contacts(), from)) return { action: 'join' };
    if (!pending) {
      const live = Object.values(all).filter((i) => i.expiresAt > this.now);
      if (live.length >= MAX_INVITATIONS) return { action: 'ignore' };
      if (live.filter((i) => i.inviter === from).length >= MAX_INVITATIONS_PER_INVITER)
        return { action: 'ignore' };
    }
    const receivedAt = pending?.receivedAt ?? this.now;
    const invitation: Invitation = {
      group: { id: group.id, title: group.title, admin: group.admin, members: [...group.members] },
      inviter: from,
      receivedAt,
      expiresAt: receivedAt + INVITATION_LIFETIME_MS,
    };
    await this.#save({ ...all, [group.id]: invitation });
    return { action: 'invite', invitation };
  }

  /** Removes and returns the pending invitation to `groupId` (for accepting or declining it). */
  async take(groupId: string, forAccepting: boolean): Promise<Invitation> {
    const all = await this.#all();
    const invitation = Object.hasOwn(all, groupId) ? all[groupId] : undefined;
    if (!invitation) throw new InvitationError('unknown');
    // An expired invitation can still be declined (the inviter learns the answer), not accepted.
    if (forAccepting && invitation.expiresAt <= this.now) throw new InvitationError('expired');
    await this.#drop(all, groupId);
    return invitation;
  }

  async #all(): Promise<InvitationMap> {
    return (await this.data.json<InvitationMap>(CONSENT_KEYS.invitations)) ?? {};
  }

  #drop(all: InvitationMap, groupId: string): Promise<void> {
    const { [groupId]: _dropped, ...rest } = all;
    return this.#save(rest);
  }

  async #save(all: InvitationMap): Promise<void> {
    const live = Object.entries(all).filter(([, i]) => i.expiresAt > this.now);
    if (live.length === 0) await this.data.delete(CONSENT_KEYS.invitations);
    else await this.data.putJson(CONSENT_KEYS.invitations, Object.fromEntries(live));
  }
}
