/**
 * Where the connection's mailbox cursor lives between runs: the app-facing `CursorStore`, its
 * in-memory default, and the read-once / write-on-change wrapper the connection uses.
 */

/**
 * Where the device's mailbox cursor (highest seq processed) is kept between runs. It must be
 * scoped to one device (token): a cursor from another device or account is meaningless.
 * Either method may be synchronous or return a Promise.
 *
 * @example
 * const store: CursorStore = {
 *   get: () => Number(localStorage.getItem(`cursor:${deviceId}`) ?? NaN) || undefined,
 *   set: (seq) => localStorage.setItem(`cursor:${deviceId}`, String(seq)),
 * };
 */
export interface CursorStore {
  get(): number | undefined | Promise<number | undefined>;
  set(seq: number): void | Promise<void>;
}

/** The default cursor store: memory only (a restarted process starts from the server's cursor). */
export class MemoryCursorStore implements CursorStore {
  private value: number | undefined;
  // No TypeScript parameter properties anywhere in client/: Node's type stripping rejects them.
  constructor(initial?: number) {
    this.value = initial;
  }
  get(): number | undefined {
    return this.value;
  }
  set(seq: number): void {
    this.value = seq;
  }
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Reports a store failure; it never ends the connection (the server keeps its own cursor). */
export type CursorStoreErrorHandler = (cause: unknown, message: string) => void;

/**
 * A `CursorStore` as the connection uses it: read once per connection object (later attempts
 * trust the in-memory cursor, which is never behind the stored one), written only when the value
 * changed, failures reported instead of thrown, and garbage from the store ignored.
 */
export class CursorPersistence {
  private readonly store: CursorStore;
  private readonly onError: CursorStoreErrorHandler;
  private loaded = false;
  private persisted: number | undefined;

  constructor(store: CursorStore, onError: CursorStoreErrorHandler) {
    this.store = store;
    this.onError = onError;
  }

  /**
   * Reads the store unless it was read already; `apply` gets a stored cursor only if it is a
   * valid seq. Returns undefined when done in this tick (nothing to read, or a synchronous store:
   * the caller can open in the same tick, which keeps connect() simple to reason about in tests),
   * otherwise a Promise that settles, never rejecting, once the value was applied.
   */
  load(apply: (cursor: number) => void): Promise<void> | undefined {
    if (this.loaded) return undefined;
    const use = (value: number | undefined): void => {
      this.loaded = true;
      if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) {
        apply(value);
        this.persisted = value;
      }
    };
    let loaded: number | undefined | Promise<number | undefined>;
    try {
      loaded = this.store.get();
    } catch (error) {
      this.onError(error, 'Loading the cursor failed');
      loaded = undefined;
    }
    if (!isPromiseLike(loaded)) {
      use(loaded);
      return undefined;
    }
    return Promise.resolve(loaded).then(use, (error: unknown) => {
      this.onError(error, 'Loading the cursor failed');
      this.loaded = true;
    });
  }

  /** Writes `seq` unless it is what the store already holds (cheap to call after every ack). */
  save(seq: number): void {
    if (this.persisted === seq) return;
    this.persisted = seq;
    try {
      const result = this.store.set(seq);
      if (isPromiseLike(result)) result.then(undefined, (error: unknown) => this.onError(error, 'Saving the cursor failed'));
    } catch (error) {
      this.onError(error, 'Saving the cursor failed');
    }
  }
}
