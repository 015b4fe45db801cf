/**
 * The logged-in app: one MessengerClient (SDK) with device-scoped localStorage stores, the chat
 * store it feeds, and the views. Also owns what spans views: the URL (`#/d/<userId>`,
 * `#/g/<groupId>`), marking the open chat read while the page is visible, the connection banner,
 * the "sending paused" notice of a rate limit, going offline and back, and logging out.
 */
import { MessengerClient, TypingIndicators } from '../../client/index.ts';
import type { ConnectionState, ErrorCode, MessengerError } from '../../client/index.ts';
import { ChatStore, chatKey, parseChatKey, type Chat } from './chat-store.ts';
import { Directory } from './directory.ts';
import { h, setIsolated, setText } from './dom.ts';
import { friendlyError, isSessionEnded } from './errors.ts';
import { formatWait, initials } from './format.ts';
import { icon } from './icons.ts';
import { sdkPresence } from './presence.ts';
import { clearSession, type Session } from './session.ts';
import { clearDeviceStores, LocalCursorStore, LocalOutboxStore } from './stores.ts';
import { Sync } from './sync.ts';
import { avatar, ChatListView } from './views/chat-list.ts';
import { ConversationView } from './views/conversation.ts';
import { openCreateGroup, openGroupInfo } from './views/groups.ts';
import { openNewChat } from './views/new-chat.ts';

export interface AppOptions {
  root: HTMLElement;
  session: Session;
  /** Server origin (the page's own origin when served by the Worker). */
  baseUrl: string;
  /** The session ended (logout or revoked): show the login, optionally with a reason. */
  onLoggedOut(notice?: string): void;
}

/** Show "Connecting…" only if connecting takes longer than this, ms. */
const CONNECTING_BANNER_DELAY_MS = 1_000;

export function startApp(options: AppOptions): { dispose(): void } {
  const { session } = options;
  const client = new MessengerClient({
    baseUrl: options.baseUrl,
    token: session.token,
    cursorStore: new LocalCursorStore(session.deviceId),
    outboxStore: new LocalOutboxStore(session.deviceId),
    device: { platform: 'web' },
  });
  const store = new ChatStore(session.userId);
  const directory = new Directory(client.api, session.userId);
  const sync = new Sync(client, store, directory);
  const typing = new TypingIndicators(client);
  const presence = sdkPresence(client);
  const drafts = new Map<string, string>();
  const lifetime = new AbortController();
  const signal = lifetime.signal;
  let view: ConversationView | null = null;
  let disposed = false;

  // ------------------------------------------------------------ layout

  const meName = h('span', { class: 'me-name', 'data-testid': 'me-name' });
  setIsolated(meName, session.phone);
  const meAvatar = avatar(session.userId, session.phone);
  const bannerText = h('span', { class: 'banner-text' });
  const bannerAction = h('button', { type: 'button', class: 'link', hidden: true, 'data-testid': 'banner-action' });
  const banner = h('div', { class: 'banner', role: 'status', 'data-testid': 'connection-banner', hidden: true }, bannerText, bannerAction);
  const delayNotice = h('div', { class: 'banner banner-delay', role: 'status', 'data-testid': 'send-delay', hidden: true });
  const chatList = new ChatListView({ store, directory, sync, typing, onOpen: (key) => navigate(key) });
  const iconButton = (label: string, testId: string, name: Parameters<typeof icon>[0], onClick: () => void): HTMLButtonElement =>
    h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label, 'data-testid': testId, on: { click: onClick } }, icon(name));
  const sidebar = h(
    'aside',
    { class: 'sidebar', 'aria-label': 'Chats' },
    h(
      'header',
      { class: 'sidebar-header' },
      meAvatar,
      meName,
      h(
        'div',
        { class: 'toolbar' },
        iconButton('New chat', 'new-chat-button', 'newChat', () => openNewChat({ api: client.api, directory, onFound: (id) => navigate(chatKey('direct', id)) })),
        iconButton('New group', 'new-group-button', 'group', () => openCreateGroup({ api: client.api, directory, onCreated: (id) => navigate(chatKey('group', id)) })),
        iconButton('Log out', 'logout-button', 'logout', () => void logout()),
      ),
    ),
    chatList.el,
  );
  const placeholder = h(
    'div',
    { class: 'placeholder', 'data-testid': 'placeholder' },
    h('h2', {}, 'Messenger for the web'),
    h('p', {}, 'Pick a chat on the left, or start a new one with the + button.'),
  );
  const main = h('main', { class: 'main' }, placeholder);
  const shell = h('div', { class: 'app', 'data-testid': 'app', 'data-view': 'list', 'data-connection': 'idle' }, sidebar, main, banner, delayNotice);
  options.root.replaceChildren(shell);

  // ------------------------------------------------------------ chats and the URL

  function keyFromHash(): string | null {
    const match = /^#\/([dg])\/([0-9A-Za-z]+)$/.exec(location.hash);
    if (match === null) return null;
    const key = `${match[1]}:${match[2]}`;
    return parseChatKey(key) === null ? null : key;
  }

  /** Open a chat (or the list with null) through the URL, so Back works on phones. */
  function navigate(key: string | null): void {
    const hash = key === null ? '#/' : `#/${key.replace(':', '/')}`;
    if (location.hash === hash) route();
    else location.hash = hash;
  }

  function route(): void {
    const key = keyFromHash();
    if (view?.chat.key === key) return;
    const previous = view?.chat.key ?? null;
    view?.dispose();
    view = null;
    if (key === null) {
      main.replaceChildren(placeholder);
      shell.dataset.view = 'list';
      chatList.setActive(null);
      if (previous !== null) chatList.focus(previous);
      return;
    }
    const chat = store.chat(key);
    view = new ConversationView({
      chat,
      store,
      directory,
      sync,
      presence,
      typingIndicators: typing,
      drafts,
      send: (text) => send(chat, text),
      typing: (state) => {
        if (chat.kind === 'direct') client.typing(chat.id, state);
        else client.groupTyping(chat.id, state);
      },
      onBack: () => navigate(null),
      onGroupInfo: () => openGroupInfo({ api: client.api, directory, groupId: chat.id, onLeft: () => undefined }),
      describeError: friendlyError,
    });
    main.replaceChildren(view.el);
    shell.dataset.view = 'chat';
    chatList.setActive(key);
    view.focusComposer();
    scheduleMarkRead();
  }

  /** Hand the text to the SDK's outbox (it survives reloads and goes out on reconnect) and show it at once. */
  function send(chat: Chat, text: string): void {
    const pending = chat.kind === 'direct' ? client.sendText(chat.id, text) : client.sendGroupText(chat.id, text);
    const entry = client.outbox.get(pending.clientId);
    if (entry !== undefined) store.addPending(entry);
  }

  // ------------------------------------------------------------ read markers

  let markReadScheduled = false;
  function scheduleMarkRead(): void {
    if (markReadScheduled) return;
    markReadScheduled = true;
    queueMicrotask(() => {
      markReadScheduled = false;
      markOpenChatRead();
    });
  }

  /** The open chat, while the page is visible, is read up to its newest entry. */
  function markOpenChatRead(): void {
    if (view === null || document.visibilityState !== 'visible') return;
    const chat = view.chat;
    const upTo = store.newestSeq(chat);
    if (upTo === 0 || (chat.unread === 0 && store.newestIncomingSeq(chat) <= chat.readUpTo)) return;
    if (chat.kind === 'direct') client.markRead(chat.id, upTo);
    else client.markGroupRead(chat.id, upTo);
    store.markRead(chat.key, upTo);
  }

  store.on('changed', ({ key }) => {
    if (view !== null && (key === null || key === view.chat.key)) scheduleMarkRead();
    const unread = store.totalUnread();
    document.title = unread > 0 ? `(${unread}) Messenger` : 'Messenger';
  });

  // ------------------------------------------------------------ connection

  let connectingTimer: number | undefined;
  let closedError: MessengerError | undefined;

  function showBanner(text: string, action?: { label: string; run: () => void }): void {
    setText(bannerText, text);
    bannerAction.hidden = action === undefined;
    if (action !== undefined) {
      setText(bannerAction, action.label);
      bannerAction.onclick = action.run;
    }
    banner.hidden = false;
  }

  function updateBanner(state: ConnectionState): void {
    window.clearTimeout(connectingTimer);
    if (state === 'open' || state === 'idle') {
      banner.hidden = true;
    } else if (!navigator.onLine) {
      showBanner('You are offline. Messages you write are sent when you are back online.');
    } else if (state === 'reconnecting') {
      showBanner('Reconnecting… Messages you write are sent when the connection is back.');
    } else if (state === 'connecting') {
      connectingTimer = window.setTimeout(() => showBanner('Connecting…'), CONNECTING_BANNER_DELAY_MS);
    } else if (closedError?.code === 'replaced') {
      showBanner('Messenger is open in another window.', { label: 'Use here', run: () => void client.connect() });
    } else {
      showBanner('Disconnected.', { label: 'Reconnect', run: () => void client.connect() });
    }
  }

  client.on('state', ({ state, error }) => {
    shell.dataset.connection = state;
    // Notices stop while disconnected; indicators from before must not linger.
    if (state !== 'open') typing.clear();
    closedError = state === 'closed' ? error : undefined;
    if (state === 'closed' && error !== undefined && isSessionEnded(error)) {
      endSession(friendlyError(error));
      return;
    }
    updateBanner(state);
  });
  // ------------------------------------------------------------ rate limits

  // A send the server refused for now stays pending (its clock tick) and goes out by itself
  // after the wait; this notice says how long, in words, until then.
  let delayUntil = 0;
  let delayReason: ErrorCode = 'rate_limited';
  let delayTimer: number | undefined;

  function updateDelayNotice(): void {
    const left = delayUntil - Date.now();
    if (left <= 0) {
      delayNotice.hidden = true;
      window.clearInterval(delayTimer);
      delayTimer = undefined;
      return;
    }
    const why = delayReason === 'rate_limited' ? 'You sent a lot of messages at once.' : 'The server is busy.';
    setText(delayNotice, `${why} Your messages are sent in ${formatWait(left)}.`);
    delayNotice.hidden = false;
  }

  client.on('send_delayed', ({ retryAt, error }) => {
    delayUntil = Math.max(delayUntil, retryAt);
    delayReason = error.code;
    updateDelayNotice();
    if (delayTimer === undefined) delayTimer = window.setInterval(updateDelayNotice, 1_000);
  });

  client.on('hello', () => {
    // History that failed to load (offline) is fetched again once connected.
    if (view !== null && view.chat.history === 'error') void sync.loadHistory(view.chat.key, view.chat.older !== undefined);
    scheduleMarkRead();
  });
  client.on('error', (error) => {
    // Not shown to users (nothing they can do); kept for developers.
    console.warn(`[messenger] ${error.code}: ${error.message}`);
  });

  // The browser knows when the network is gone: stop using a socket that cannot work (browsers
  // may take minutes to notice) and queue sends; reconnect at once when it is back.
  window.addEventListener(
    'offline',
    () => {
      client.close();
      updateBanner(client.state);
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
  document.addEventListener('visibilitychange', scheduleMarkRead, { signal });
  // Bringing the page back to the front is "opening the app": it moves last seen.
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && client.markActive(), { signal });
  window.addEventListener('hashchange', route, { signal });
  document.addEventListener(
    'keydown',
    (event) => {
      if (event.key !== 'Escape' || view === null || document.querySelector('dialog[open]') !== null) return;
      event.preventDefault();
      navigate(null);
    },
    { signal },
  );

  // ------------------------------------------------------------ session

  async function logout(): Promise<void> {
    const unsent = client.pending().length;
    if (unsent > 0 && !window.confirm(`${unsent === 1 ? '1 message has' : `${unsent} messages have`} not been sent yet and will be lost. Log out anyway?`)) return;
    try {
      await client.logout();
    } catch {
      // Offline: the token is forgotten here anyway.
    }
    endSession();
  }

  function endSession(notice?: string): void {
    clearDeviceStores(session.deviceId);
    directory.clear();
    clearSession();
    dispose();
    if (location.hash !== '') history.replaceState(null, '', location.pathname);
    options.onLoggedOut(notice);
  }

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    lifetime.abort();
    window.clearTimeout(connectingTimer);
    window.clearInterval(delayTimer);
    view?.dispose();
    view = null;
    chatList.dispose();
    sync.dispose();
    typing.dispose();
    client.close();
    client.removeAllListeners();
  }

  // ------------------------------------------------------------ start

  sync.onReset = () => {
    // The store was rebuilt (cursor_expired): the open chat's view must use the new chat object.
    view?.dispose();
    view = null;
    route();
  };
  sync.start();
  directory.on('changed', () => {
    const name = directory.userName(session.userId);
    const shown = name === 'Unknown user' ? session.phone : name;
    setIsolated(meName, shown);
    setText(meAvatar, initials(shown));
  });
  client.api.me().then((me) => directory.rememberProfile(me), () => undefined);
  client.api.groups().then((list) => list.groups.forEach((g) => directory.rememberGroup(g)), () => undefined);
  client.api.contacts().then((list) => list.contacts.forEach((c) => directory.rememberContact(c)), () => undefined);
  void sync.loadConversations();
  void client.connect();
  route();

  return { dispose };
}
