/**
 * Entry point: the login screen, or the app when a session is saved. The page is served by the
 * Worker itself, so the API is on the same origin.
 */
// First: it must run before any module that builds a zod schema (see no-eval.ts).
import './no-eval.ts';
import { startApp } from './app.ts';
import { loadSession } from './session.ts';
import { renderLogin } from './views/login.ts';

const root = document.getElementById('app');
if (root === null) throw new Error('index.html has no #app element');
const appRoot: HTMLElement = root;
const baseUrl = location.origin;

function boot(notice?: string): void {
  const session = loadSession();
  if (session === null) {
    renderLogin(appRoot, { baseUrl, ...(notice === undefined ? {} : { notice }), onLoggedIn: () => boot() });
    return;
  }
  startApp({ root: appRoot, session, baseUrl, onLoggedOut: (reason) => boot(reason) });
}

boot();
