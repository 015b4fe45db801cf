/**
 * Small waiting helpers for long-running commands.
 */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Why a long-running command stopped. */
export type StopReason = 'done' | 'timeout' | 'interrupted';

/**
 * Wait for `done`, Ctrl-C (`signal`) or `timeoutMs`, whichever comes first. Rejects when `done`
 * rejects.
 */
export function waitUntil(done: Promise<void>, options: { signal: AbortSignal; timeoutMs?: number }): Promise<StopReason> {
  return new Promise<StopReason>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = (reason: StopReason): void => {
      if (timer !== undefined) clearTimeout(timer);
      options.signal.removeEventListener('abort', onAbort);
      resolve(reason);
    };
    const onAbort = (): void => finish('interrupted');
    if (options.signal.aborted) {
      finish('interrupted');
      return;
    }
    options.signal.addEventListener('abort', onAbort, { once: true });
    if (options.timeoutMs !== undefined) timer = setTimeout(() => finish('timeout'), options.timeoutMs);
    done.then(
      () => finish('done'),
      (error: unknown) => {
        if (timer !== undefined) clearTimeout(timer);
        options.signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
