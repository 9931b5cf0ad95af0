/** The page's state and navigation, shared by the views (main.ts owns the rendering loop). */
import type { ChatClient, Group } from '@e2ee-kit/chat-client';

export type View =
  | { kind: 'none' }
  | { kind: 'dm'; contact: string }
  | { kind: 'group'; id: string }
  | { kind: 'safety'; contact: string }
  | { kind: 'new-group' }
  | { kind: 'backup' }
  | { kind: 'devices' }
  | { kind: 'privacy' }
  | { kind: 'invitations' };

export const state = {
  client: undefined as ChatClient | undefined,
  view: { kind: 'none' } as View,
  /** The people this user added (the relay lists no one: contacts are added by exact name). */
  contacts: [] as string[],
  /** People with a 1:1 conversation who are not contacts (someone who wrote first). */
  chats: [] as string[],
  groups: [] as Group[],
  /** How many group invitations wait for an answer. */
  invitations: 0,
  unread: new Map<string, number>(),
  connected: false,
  /**
   * Another tab of this profile (the same device) took the relay connection over: this tab waits
   * until the user comes back to it, instead of taking it back and being taken over in turn.
   */
  elsewhere: false,
  /** Contacts whose safety number changed and who were not verified or accepted since. */
  identityChanged: new Set<string>(),
  /** The last failed send, shown only in its own conversation. */
  sendError: undefined as { conversation: string; text: string; untrusted: boolean } | undefined,
  recoveryCodeToShow: '' as string,
  /** Set when the relay no longer knows this device (the account moved elsewhere). */
  lost: undefined as 'replaced' | 'unauthorized' | undefined,
};

export const conversationOf = (v: View) =>
  v.kind === 'dm' ? `dm:${v.contact}` : v.kind === 'group' ? `group:${v.id}` : undefined;

/** Filled in by main.ts (the views call back into navigation without importing it). */
export const nav = {
  go: (_view: View): void => {},
  refreshLists: async (): Promise<void> => {},
  registrationLost: (_reason: 'replaced' | 'unauthorized'): void => {},
};
