/**
 * Erasing this browser's copy of the account (after the account moved to another device). The
 * IndexedDB database cannot be deleted while this page holds it open, so the wish is written to
 * localStorage, the page reloads, and the next start deletes the database before opening it.
 */
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

/** Runs at start: deletes the database if asked to, and says what the user wanted next. */
export async function eraseIfAsked(): Promise<AfterErase | undefined> {
  const raw = localStorage.getItem(ERASE);
  if (raw === null) return undefined;
  await new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(DB_NAME);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
  localStorage.removeItem(ERASE);
  try {
    return JSON.parse(raw) as AfterErase;
  } catch {
    return { name: '', next: 'none' };
  }
}
