/**
 * Following the connection: the banner and the shell's `data-connection` follow the SDK's state,
 * typing indicators go while disconnected, the rate-limit notice counts down, and the browser's
 * own offline / online events close the socket at once and reconnect without waiting for the
 * backoff (browsers may take minutes to notice a dead socket). The end of a session is not shown
 * here: the SDK's 'session_ended' (app.ts) says why.
 */
import type { MessengerClient, TypingIndicators } from '../../client/index.ts';
import { CLOSE_CODES } from '../../protocol/index.ts';
import { isSessionEnded } from './errors.ts';
import type { ConnectionBanner, DelayNotice } from './views/banners.ts';

export interface ConnectionOptions {
  client: MessengerClient;
  typing: TypingIndicators;
  banner: ConnectionBanner;
  delayNotice: DelayNotice;
  /** Gets `data-connection` = the state (styles and tests read it). */
  shell: HTMLElement;
  /** Ends the window listeners (the session ended). */
  signal: AbortSignal;
}

export function followConnection(options: ConnectionOptions): void {
  const { client, typing, banner, delayNotice, shell, signal } = options;
  client.on('state', ({ state, error, code }) => {
    shell.dataset.connection = state;
    // Notices stop while disconnected; indicators from before must not linger.
    if (state !== 'open') typing.clear();
    // The session is over: 'session_ended' (or logout / deletion) takes it from here.
    if (state === 'closed' && (isSessionEnded(error) || code === CLOSE_CODES.account_deleted)) return;
    banner.update(state, state === 'closed' ? error : undefined);
  });
  client.on('send_delayed', ({ retryAt, error }) => delayNotice.delay(retryAt, error.code));
  // The browser knows when the network is gone: stop using a socket that cannot work and queue
  // sends; reconnect at once when it is back.
  window.addEventListener(
    'offline',
    () => {
      client.close();
      banner.update(client.state, undefined);
    },
    { signal },
  );
  window.addEventListener(
    'online',
    () => {
      if (client.state === 'open') return;
      client.close();
      void client.connect();
    },
    { signal },
  );
}
