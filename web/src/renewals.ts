/**
 * The last session a tab of this browser profile renewed, kept in IndexedDB: how a tab that
 * waited for the renewal lock (session.ts `sharedRefresh`) learns what the tab before it got.
 *
 * Why not localStorage, where the session is kept for reloads: Chromium gives each renderer
 * process its own copy of localStorage and brings other tabs' writes over asynchronously, in no
 * order with Web Lock grants. A tab granted the lock right after another released it can still
 * read the refresh token that tab just spent there, and refresh with it a second time. IndexedDB
 * transactions commit in one place: what a transaction that completed before the lock was
 * released wrote, a transaction begun after the lock was granted reads.
 */
const DB_NAME = 'messenger.session';
const STORE = 'renewal';
const KEY = 'last';

function settled<T>(request: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB request failed'));
  });
}

function open(): Promise<IDBDatabase> {
  const request = indexedDB.open(DB_NAME, 1);
  request.onupgradeneeded = () => request.result.createObjectStore(STORE);
  return settled(request);
}

/** Resolves when the transaction committed (visible to every later transaction, in any tab). */
function committed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

async function withStore<T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    const tx = db.transaction(STORE, mode);
    const [result] = await Promise.all([settled(use(tx.objectStore(STORE))), committed(tx)]);
    return result;
  } finally {
    db.close();
  }
}

/** The last renewal recorded (unvalidated: the caller checks its shape), or undefined. */
export function lastRenewal(): Promise<unknown> {
  return withStore('readonly', (store) => store.get(KEY));
}

/** Record a renewal; resolves once other tabs can read it. */
export async function recordRenewal(session: object): Promise<void> {
  await withStore('readwrite', (store) => store.put(session, KEY));
}

/** Forget it (logged out). */
export async function forgetRenewal(): Promise<void> {
  await withStore('readwrite', (store) => store.delete(KEY));
}
