/**
 * Where the outbox (outbox.ts) persists its records, and the client ids it gives them.
 */
import { copyRecord } from './outbox-entries.ts';
import type { OutboxRecord } from './outbox-entries.ts';

/**
 * Where outbox records are persisted: unconfirmed sends and message actions, in one ordered
 * list. `save` receives the whole list after every change (the outbox is small, and whole-list
 * writes keep order trivially correct). Either method may be synchronous or return a Promise.
 * Records are plain JSON: store them as they are (the outbox validates what `load` returns).
 *
 * @example
 * const localStorageOutbox: OutboxStore = {
 *   load: () => JSON.parse(localStorage.getItem('outbox') ?? '[]'),
 *   save: (records) => localStorage.setItem('outbox', JSON.stringify(records)),
 * };
 */
export interface OutboxStore {
  load(): readonly OutboxRecord[] | Promise<readonly OutboxRecord[]>;
  save(records: readonly OutboxRecord[]): void | Promise<void>;
}

/** The default store: keeps a copy in memory (so nothing survives the process). */
export class MemoryOutboxStore implements OutboxStore {
  private records: OutboxRecord[] = [];

  load(): readonly OutboxRecord[] {
    return this.records.map(copyRecord);
  }

  save(records: readonly OutboxRecord[]): void {
    this.records = records.map(copyRecord);
  }
}

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * A fresh client message id: 32 hex characters from `crypto.randomUUID()`, or 22 base64url
 * characters of `crypto.getRandomValues` where randomUUID is missing (browsers only expose it in
 * secure contexts). Always matches CLIENT_ID_PATTERN.
 *
 * @example
 * generateClientId(); // "3f1c9a0e5b7d4e2f8a6b1c0d9e8f7a6b"
 */
export function generateClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID().replace(/-/g, '');
  return base64url(crypto.getRandomValues(new Uint8Array(16)));
}
