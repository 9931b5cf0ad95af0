/** What the consent views (contacts, privacy, invitations) are given by the page that hosts them. */
import type { ChatClient } from '@e2ee-kit/chat-client';

export type Child = Node | string | null | undefined | false;

/** The page's element builder: `h('button', { onclick }, 'Save')`. */
export type ElementBuilder = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string | boolean | ((ev: Event) => void)>,
  ...children: Child[]
) => HTMLElementTagNameMap[K];

export interface ViewContext {
  readonly h: ElementBuilder;
  readonly client: ChatClient;
  /** Re-reads contacts, groups and invitations and redraws the sidebar. */
  readonly refresh: () => Promise<void>;
  readonly errorText: (err: unknown) => string;
}
