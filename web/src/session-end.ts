/**
 * How the app's session ends: logging out (after a warning when messages are still unsent),
 * deleting the account, the server ending it (the SDK's 'session_ended': logged out elsewhere,
 * refresh refused, idle too long, account deleted), and another tab of this profile logging out
 * or in. Ending it here removes the device's data (stores, cached directory, the session); the
 * app is torn down and the login shows, with why when there is something to say.
 */
import type { MessengerClient } from '../../client/index.ts';
import type { Directory } from './directory.ts';
import { friendlyError } from './errors.ts';
import { clearSession, watchSession, type Session } from './session.ts';
import { clearDeviceStores } from './stores.ts';

export interface SessionEndOptions {
  client: MessengerClient;
  directory: Directory;
  session: Session;
  /** Tear the app down (does nothing the second time). */
  dispose(): void;
  /** Whether the app was torn down already (then nothing is left to end). */
  disposed(): boolean;
  /** Show the login, optionally with a reason. */
  onLoggedOut(notice?: string): void;
  /** Ends the watch on other tabs. */
  signal: AbortSignal;
}

export class SessionEnd {
  /** Set while this tab ends the session itself (logout, deletion): the server's side of it is expected then. */
  private leaving = false;

  constructor(private readonly options: SessionEndOptions) {
    const { client, session } = options;
    client.on('session_ended', ({ reason, error }) => {
      if (!this.leaving) this.end(reason === 'account_deleted' ? 'This account was deleted.' : friendlyError(error));
    });
    // Another tab of this profile renewed the session (its refresh token is now the only valid
    // one) or ended it.
    watchSession((other) => {
      // A renewal there: this tab picks the new session up when it renews next (sharedRefresh).
      if (other !== null && other.deviceId === session.deviceId) return;
      // Logged out there (its data is gone already), or logged in anew: follow it.
      this.leaving = true;
      options.dispose();
      options.onLoggedOut();
    }, options.signal);
  }

  async logout(): Promise<void> {
    const { client } = this.options;
    const unsent = client.pending().length;
    if (unsent > 0 && !window.confirm(`${unsent === 1 ? '1 message has' : `${unsent} messages have`} not been sent yet and will be lost. Log out anyway?`)) return;
    this.leaving = true;
    try {
      await client.logout();
    } catch {
      // Offline: the token is forgotten here anyway.
    }
    this.end();
  }

  /** Delete the account (the settings screen), then show the login. */
  async deleteAccount(phone: string): Promise<void> {
    this.leaving = true;
    try {
      await this.options.client.deleteAccount(phone);
    } catch (error) {
      this.leaving = false;
      throw error;
    }
    this.end('Your account was deleted.');
  }

  private end(notice?: string): void {
    const { directory, session } = this.options;
    if (this.options.disposed()) return;
    clearDeviceStores(session.deviceId);
    directory.clear();
    clearSession();
    this.options.dispose();
    if (location.hash !== '') history.replaceState(null, '', location.pathname);
    this.options.onLoggedOut(notice);
  }
}
