/**
 * A tiny typed event emitter used by every SDK class. Standard JavaScript only (no Node
 * `events`), so the SDK runs unchanged in browsers, Node and workers.
 *
 * Design choices:
 * - Listeners run synchronously, in registration order, on a snapshot of the listener list, so a
 *   listener that subscribes or unsubscribes while an event is being emitted cannot cause skips.
 * - A throwing listener must not corrupt the caller's state machine (the connection emits events
 *   in the middle of processing a frame), so exceptions are caught and reported out of band.
 * - `once()` returns a Promise with an optional predicate and timeout: tests and scripts use it as
 *   "wait until the client sees X".
 */

/** A function called with an event's payload. */
export type Listener<T> = (payload: T) => void;

/** Options for {@link Emitter.once}. */
export interface OnceOptions {
  /** Reject with an Error after this many milliseconds (uses `setTimeout`, so fake timers apply). */
  timeoutMs?: number;
  /** Reject (with the signal's reason) when this signal aborts. */
  signal?: AbortSignal;
}

/** Called when a listener throws. The default rethrows from a microtask (reported as uncaught). */
export type ListenerErrorHandler = (error: unknown, event: PropertyKey) => void;

const rethrowLater: ListenerErrorHandler = (error) => {
  // Rethrowing synchronously would abort the emitter's caller half-way through a frame; a
  // microtask keeps the error visible (uncaught error in Node, console in browsers) without that.
  queueMicrotask(() => {
    throw error;
  });
};

/**
 * A typed event emitter. `Events` maps event names to payload types.
 *
 * @example
 * interface Events { tick: number; done: { ok: boolean } }
 * const emitter = new Emitter<Events>();
 * const off = emitter.on('tick', (n) => console.log(n));
 * emitter.emit('tick', 1);
 * off();
 * const done = await emitter.once('done', (d) => d.ok, { timeoutMs: 1000 });
 */
export class Emitter<Events extends object> {
  private readonly listeners: { [K in keyof Events]?: Array<Listener<Events[K]>> } = {};
  private readonly onListenerError: ListenerErrorHandler;

  constructor(options: { onListenerError?: ListenerErrorHandler } = {}) {
    this.onListenerError = options.onListenerError ?? rethrowLater;
  }

  /** Subscribe; returns a function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const list = this.listeners[event] ?? [];
    list.push(listener);
    this.listeners[event] = list;
    return () => this.off(event, listener);
  }

  /** Unsubscribe one registration of `listener` (no-op when it is not subscribed). */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.listeners[event];
    if (list === undefined) return;
    const index = list.indexOf(listener);
    if (index >= 0) list.splice(index, 1);
  }

  /**
   * Resolve with the next payload of `event` for which `predicate` (if given) returns true.
   *
   * @example
   * const frame = await client.once('message', (m) => m.message.body.kind === 'text', { timeoutMs: 5000 });
   */
  once<K extends keyof Events>(
    event: K,
    predicate?: (payload: Events[K]) => boolean,
    options: OnceOptions = {},
  ): Promise<Events[K]> {
    return new Promise<Events[K]>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const cleanup = (): void => {
        this.off(event, listener);
        if (timer !== undefined) clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const listener: Listener<Events[K]> = (payload) => {
        let matches: boolean;
        try {
          matches = predicate === undefined || predicate(payload);
        } catch (error) {
          cleanup();
          reject(error);
          return;
        }
        if (!matches) return;
        cleanup();
        resolve(payload);
      };
      const onAbort = (): void => {
        cleanup();
        reject(options.signal?.reason ?? new Error(`Aborted while waiting for "${String(event)}"`));
      };
      if (options.signal?.aborted) {
        onAbort();
        return;
      }
      this.on(event, listener);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Timed out after ${options.timeoutMs} ms waiting for "${String(event)}"`));
        }, options.timeoutMs);
      }
    });
  }

  /** Call every listener of `event` with `payload`. Returns whether there was any listener. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): boolean {
    const list = this.listeners[event];
    if (list === undefined || list.length === 0) return false;
    for (const listener of [...list]) {
      try {
        listener(payload);
      } catch (error) {
        this.onListenerError(error, event);
      }
    }
    return true;
  }

  /** Number of listeners currently subscribed to `event`. */
  listenerCount(event: keyof Events): number {
    return this.listeners[event]?.length ?? 0;
  }

  /** Remove every listener of `event`, or of all events. */
  removeAllListeners(event?: keyof Events): void {
    if (event === undefined) {
      for (const key of Object.keys(this.listeners) as Array<keyof Events>) delete this.listeners[key];
    } else {
      delete this.listeners[event];
    }
  }
}
