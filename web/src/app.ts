/**
 * The logged-in app: one MessengerClient (SDK) with device-scoped localStorage stores, the chat
 * store it feeds, and the views. Also owns what spans views: the URL (`#/d/<userId>`,
 * `#/g/<groupId>`, `#/settings`, and `#join/<code>` for invite links), marking the open chat read
 * while the page is visible, the banners, pending group invites and account notices, going
 * offline and back, browser notifications, the starred messages, and the session: the SDK renews the access token with the refresh token and
 * hands every rotated session to session.ts; when the session ends (logout, revoked, refresh
 * refused, account deleted) the device's data is removed and the login shows.
 */
import { MessengerClient, TypingIndicators } from '../../client/index.ts';
import { MessageActions } from './actions.ts';
import { ChatStore, chatKey, parseChatKey, type Chat } from './chat-store.ts';
import { Directory } from './directory.ts';
import { h, setIsolated } from './dom.ts';
import { friendlyError, isSessionEnded } from './errors.ts';
import { formatPhone } from './format.ts';
import { CLOSE_CODES } from '../../protocol/index.ts';
import { icon } from './icons.ts';
import { setPicture, usePictureUrls } from './media/avatars.ts';
import { mediaAdapter } from './media/sdk.ts';
import { Notifier } from './notifications.ts';
import { mediaSender } from './media/send.ts';
import { UploadTracker } from './media/uploads.ts';
import { SignedUrls } from './media/urls.ts';
import { sdkPresence } from './presence.ts';
import { clearSession, saveSession, sharedRefresh, watchSession, type Session } from './session.ts';
import { clearDeviceStores, LocalCursorStore, LocalOutboxStore } from './stores.ts';
import { Sync } from './sync.ts';
import { ConnectionBanner, DelayNotice, NotificationsBanner } from './views/banners.ts';
import { avatar, ChatListView } from './views/chat-list.ts';
import { ConversationView } from './views/conversation.ts';
import { openForwardDialog } from './views/forward-dialog.ts';
import { openMessageInfo } from './views/message-dialogs.ts';
import { closeMessageMenu, messageMenuOpen } from './views/message-menu.ts';
import { openStarred } from './views/starred.ts';
import { openCreateGroup, openGroupInfo } from './views/groups.ts';
import { InvitesView } from './views/invites.ts';
import { openJoinLink } from './views/join.ts';
import { openNewChat } from './views/new-chat.ts';
import { SettingsView } from './views/settings.ts';
import { describeAccountEvent, Toasts } from './views/toasts.ts';

export interface AppOptions {
  root: HTMLElement;
  session: Session;
  /** Server origin (the page's own origin when served by the Worker). */
  baseUrl: string;
  /** The session ended (logout, revoked, account deleted): show the login, optionally with a reason. */
  onLoggedOut(notice?: string): void;
}

const SETTINGS_HASH = '#/settings';
const JOIN_HASH = /^#join\/([A-Za-z0-9_-]{22})$/;

export function startApp(options: AppOptions): { dispose(): void } {
  const { session } = options;
  /** Set while this tab ends the session itself (logout, deletion): the server's side of it is expected then. */
  let leaving = false;
  const client: MessengerClient = new MessengerClient({
    baseUrl: options.baseUrl,
    session,
    // Renewals and the end: the end is handled where it is known why ('session_ended', logout, deletion).
    onSession: (renewed) => {
      if (renewed !== null) saveSession(renewed, session.phone);
    },
    refreshSession: sharedRefresh(() => client.api, session.phone),
    cursorStore: new LocalCursorStore(session.deviceId),
    outboxStore: new LocalOutboxStore(session.deviceId),
    device: { platform: 'web' },
  });
  const store = new ChatStore(session.userId);
  const directory = new Directory(client.api, session.userId);
  const sync = new Sync(client, store, directory);
  const typing = new TypingIndicators(client);
  const presence = sdkPresence(client, directory);
  const drafts = new Map<string, string>();
  const media = mediaAdapter(client);
  const urls = new SignedUrls((mediaId, fresh) => media.url(mediaId, fresh));
  const uploads = new UploadTracker();
  const sendMedia = mediaSender({ adapter: media, store, uploads, describeError: friendlyError });
  const uploadAvatar = (file: Blob, onProgress: (fraction: number) => void): Promise<string> => media.upload(file, 'avatar', file.type || 'image/jpeg', onProgress);
  usePictureUrls(urls);
  const lifetime = new AbortController();
  const signal = lifetime.signal;
  let view: ConversationView | null = null;
  let settings: SettingsView | null = null;
  let disposed = false;
  /** A message to show once its chat's view is open (starred messages, notifications). */
  let jumpTo: { key: string; id: string } | null = null;
  const toasts = new Toasts();
  const notificationsBanner = new NotificationsBanner();
  const actions = new MessageActions({
    client,
    store,
    directory,
    // Said in the open chat (where the action was done), else as a notice.
    notify: (text) => (view === null ? toasts.show([text], 'action') : view.say(text)),
    describeError: friendlyError,
  });
  const notifier = new Notifier({
    api: client.api,
    directory,
    offer: (accept) => notificationsBanner.show(accept),
    open: (key) => navigate(key),
    // Called before the store takes the message in (sync starts listening later).
    known: (id) => store.message(id) !== undefined,
  });

  // ------------------------------------------------------------ layout

  const meName = h('span', { class: 'me-name', 'data-testid': 'me-name' });
  setIsolated(meName, formatPhone(session.phone));
  const meAvatar = avatar(session.userId, session.phone);
  const banner = new ConnectionBanner(() => void client.connect());
  const delayNotice = new DelayNotice();
  const chatList = new ChatListView({
    store,
    directory,
    sync,
    typing,
    onOpen: (key) => navigate(key),
    markUnread: (chat, unread) => {
      // A chat marked unread is put away first (as if never opened), or opening it would read it.
      if (unread && view?.chat.key === chat.key) {
        navigate(null);
        route();
      }
      actions.markUnread(chat, unread);
    },
  });
  const invites = new InvitesView({ api: client.api, directory, onAccepted: (groupId) => navigate(chatKey('group', groupId)) });
  const iconButton = (label: string, testId: string, name: Parameters<typeof icon>[0], onClick: () => void): HTMLButtonElement =>
    h('button', { type: 'button', class: 'icon-button', 'aria-label': label, title: label, 'data-testid': testId, on: { click: onClick } }, icon(name));
  const settingsButton = iconButton('Settings', 'settings-button', 'settings', () => openSettings());
  const sidebarHeader = h(
    'header',
    { class: 'sidebar-header' },
    meAvatar,
    meName,
    h(
      'div',
      { class: 'toolbar' },
      iconButton('New chat', 'new-chat-button', 'newChat', () => openNewChat({ api: client.api, directory, onFound: (id) => navigate(chatKey('direct', id)) })),
      iconButton('New group', 'new-group-button', 'group', () => openCreateGroup({ api: client.api, directory, onCreated: (id) => navigate(chatKey('group', id)) })),
      iconButton('Starred messages', 'starred-button', 'star', () =>
        openStarred({
          directory,
          load: (before) => client.starred(before === undefined ? { limit: 30 } : { before, limit: 30 }),
          open: (key, id) => openAt(key, id),
          describeError: friendlyError,
        }),
      ),
      settingsButton,
      iconButton('Log out', 'logout-button', 'logout', () => void logout()),
    ),
  );
  const listPane = [sidebarHeader, notificationsBanner.el, invites.el, chatList.el];
  const sidebar = h('aside', { class: 'sidebar', 'aria-label': 'Chats' }, ...listPane);
  const placeholder = h(
    'div',
    { class: 'placeholder', 'data-testid': 'placeholder' },
    h('h2', {}, 'Messenger for the web'),
    h('p', {}, 'Pick a chat on the left, or start a new one with the + button.'),
  );
  const main = h('main', { class: 'main' }, placeholder);
  const shell = h(
    'div',
    { class: 'app', 'data-testid': 'app', 'data-view': 'list', 'data-connection': 'idle' },
    sidebar,
    main,
    banner.el,
    delayNotice.el,
    toasts.el,
  );
  options.root.replaceChildren(shell);

  // ------------------------------------------------------------ the URL: chats, settings, invite links

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

  /** Open a chat at one of its messages. */
  function openAt(key: string, id: string): void {
    if (view?.chat.key === key) {
      void view.showMessage(id);
      return;
    }
    jumpTo = { key, id };
    navigate(key);
  }

  function openSettings(): void {
    if (location.hash === SETTINGS_HASH) route();
    else location.hash = SETTINGS_HASH;
  }

  /** The settings panel takes the chat list's place in the sidebar (on phones, the whole screen). */
  function showSettings(open: boolean): void {
    if (open === (settings !== null)) return;
    if (open) {
      settings = new SettingsView({
        api: client.api,
        directory,
        session,
        onClose: () => navigate(null),
        deleteAccount: (phone) => deleteAccount(phone),
        uploadAvatar,
      });
      sidebar.replaceChildren(settings.el);
      settings.focus();
      return;
    }
    settings = null;
    sidebar.replaceChildren(...listPane);
    settingsButton.focus();
  }

  function route(): void {
    const join = JOIN_HASH.exec(location.hash);
    if (join !== null) {
      // Shown once: a reload or Back does not offer it again.
      history.replaceState(null, '', `${location.pathname}#/`);
      openJoinLink({ api: client.api, directory, code: join[1] ?? '', onJoined: (groupId) => navigate(chatKey('group', groupId)) });
    }
    showSettings(location.hash === SETTINGS_HASH);
    const key = keyFromHash();
    if (view?.chat.key === key) return;
    const previous = view?.chat.key ?? null;
    closeMessageMenu();
    view?.dispose();
    view = null;
    if (key === null) {
      main.replaceChildren(placeholder);
      shell.dataset.view = 'list';
      chatList.setActive(null);
      if (previous !== null && settings === null) chatList.focus(previous);
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
      actions,
      forward: (item) => openForwardDialog({ store, directory, forward: (targets) => actions.forward(item, targets) }),
      info: (item) => {
        if (item.id !== null && chat.kind === 'group') openMessageInfo({ api: client.api, directory, groupId: chat.id, messageId: item.id });
      },
      sendMedia: (draft) => sendMedia(chat, draft),
      media: { urls, uploads },
      typing: (state) => {
        if (chat.kind === 'direct') client.typing(chat.id, state);
        else client.groupTyping(chat.id, state);
      },
      onBack: () => navigate(null),
      onGroupInfo: () => openGroupInfo({ api: client.api, directory, groupId: chat.id, onLeft: () => undefined, uploadPicture: uploadAvatar }),
      describeError: friendlyError,
    });
    main.replaceChildren(view.el);
    shell.dataset.view = 'chat';
    chatList.setActive(key);
    view.focusComposer();
    if (jumpTo?.key === key) void view.showMessage(jumpTo.id);
    jumpTo = null;
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
    // Opening a chat marked unread reads it: the mark goes (on every device).
    if (chat.markedUnread) actions.markUnread(chat, false);
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

  // ------------------------------------------------------------ connection and mailbox news

  client.on('state', ({ state, error, code }) => {
    shell.dataset.connection = state;
    // Notices stop while disconnected; indicators from before must not linger.
    if (state !== 'open') typing.clear();
    // The session is over: 'session_ended' (or logout / deletion) takes it from here.
    if (state === 'closed' && (isSessionEnded(error) || code === CLOSE_CODES.account_deleted)) return;
    banner.update(state, state === 'closed' ? error : undefined);
  });
  client.on('session_ended', ({ reason, error }) => {
    if (!leaving) endSession(reason === 'account_deleted' ? 'This account was deleted.' : friendlyError(error));
  });
  client.on('send_delayed', ({ retryAt, error }) => delayNotice.delay(retryAt, error.code));
  client.on('hello', () => {
    // History that failed to load (offline) is fetched again once connected.
    if (view !== null && view.chat.history === 'error') void sync.loadHistory(view.chat.key, view.chat.older !== undefined);
    scheduleMarkRead();
    // Invites answered on another device while this one was away.
    void invites.load();
  });
  client.on('message', ({ message }) => notifier.incoming(message));
  client.on('group_message', ({ message }) => notifier.incoming(message));
  client.on('group_invite', (entry) => invites.add({ groupId: entry.group, title: entry.title, invitedBy: entry.invitedBy, at: entry.at }));
  client.on('group_event', ({ event }) => {
    const change = event.change;
    const joined = (change.kind === 'member_joined' && change.member === session.userId) || (change.kind === 'members_added' && change.members.includes(session.userId));
    if (joined) invites.remove(event.group);
  });
  client.on('account_event', ({ event }) => {
    const phrase = describeAccountEvent(event, session.deviceId);
    if (phrase === null) return;
    const review = { label: 'Review devices', run: () => (settings === null ? openSettings() : settings.showDevices()) };
    toasts.show(phrase, event.kind, event.kind === 'device_added' ? review : undefined);
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
  document.addEventListener('visibilitychange', scheduleMarkRead, { signal });
  // Bringing the page back to the front is "opening the app": it moves last seen.
  document.addEventListener('visibilitychange', () => document.visibilityState === 'visible' && client.markActive(), { signal });
  window.addEventListener('hashchange', route, { signal });
  document.addEventListener(
    'keydown',
    (event) => {
      if (event.key !== 'Escape' || event.defaultPrevented || messageMenuOpen() || (view === null && settings === null) || document.querySelector('dialog[open]') !== null) return;
      event.preventDefault();
      navigate(null);
    },
    { signal },
  );

  // ------------------------------------------------------------ session

  // Another tab of this profile renewed the session (its refresh token is now the only valid
  // one) or ended it.
  watchSession((other) => {
    // A renewal there: this tab picks the new session up when it renews next (sharedRefresh).
    if (other !== null && other.deviceId === session.deviceId) return;
    // Logged out there (its data is gone already), or logged in anew: follow it.
    leaving = true;
    dispose();
    options.onLoggedOut();
  }, signal);

  async function logout(): Promise<void> {
    const unsent = client.pending().length;
    if (unsent > 0 && !window.confirm(`${unsent === 1 ? '1 message has' : `${unsent} messages have`} not been sent yet and will be lost. Log out anyway?`)) return;
    leaving = true;
    try {
      await client.logout();
    } catch {
      // Offline: the token is forgotten here anyway.
    }
    endSession();
  }

  /** Delete the account (the settings screen), then show the login. */
  async function deleteAccount(phone: string): Promise<void> {
    leaving = true;
    try {
      await client.deleteAccount(phone);
    } catch (error) {
      leaving = false;
      throw error;
    }
    endSession('Your account was deleted.');
  }

  function endSession(notice?: string): void {
    if (disposed) return;
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
    // Dialogs and menus live outside the app's root; none may outlast the session.
    closeMessageMenu();
    for (const dialog of document.querySelectorAll('dialog')) dialog.close();
    banner.dispose();
    delayNotice.dispose();
    view?.dispose();
    view = null;
    chatList.dispose();
    invites.dispose();
    sync.dispose();
    typing.dispose();
    uploads.clear();
    usePictureUrls(null);
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
  // Drawn now from the cached profile too: after a reload GET /v1/me usually brings nothing new,
  // so no 'changed' follows, and the header must not stay at the raw number.
  const drawMe = (): void => {
    const name = directory.userName(session.userId);
    const shown = name === 'Unknown user' ? formatPhone(session.phone) : name;
    setIsolated(meName, shown);
    setPicture(meAvatar, directory.userPhoto(session.userId), shown);
  };
  directory.on('changed', drawMe);
  drawMe();
  client.api.me().then((me) => directory.rememberProfile(me), () => undefined);
  directory.loadGroups().catch(() => undefined);
  client.api.contacts().then((list) => directory.rememberContacts(list.contacts), () => undefined);
  void sync.loadConversations();
  void invites.load();
  void client.connect();
  route();

  return { dispose };
}
