/**
 * Erasing this browser's copy of the account (after the account moved to another device). The
 * IndexedDB database cannot be deleted while this page holds it open, so the wish is written to
 * localStorage, the page reloads, and the next start deletes the database before opening it.
 */
import { deleteIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { DB_NAME } from './idb-storage.js';

const ERASE = 'e2ee-kit-chat:erase';

export interface AfterErase {
  readonly name: string;
  readonly next: 'restore' | 'reinstall' | 'none';
}

export function eraseAndReload(after: AfterErase): void {
  localStorage.setItem(ERASE, JSON.stringify(after));
  location.reload();
}

/**
 * Runs at start: deletes the database if asked to, and says what the user wanted next. When another
 * tab keeps the database open, `onBlocked` is told (the page says so) and this waits for that tab;
 * meanwhile no tab can open the database (store-indexeddb's `deleteIdbDatabase`), so none starts
 * over with a new, empty one while the old account is still there.
 */
export async function eraseIfAsked(onBlocked: () => void = () => {}): Promise<AfterErase | undefined> {
  const raw = localStorage.getItem(ERASE);
  if (raw === null) return undefined;
  await deleteIdbDatabase(DB_NAME, { onBlocked });
  localStorage.removeItem(ERASE);
  try {
    return JSON.parse(raw) as AfterErase;
  } catch {
    return { name: '', next: 'none' };
  }
}
