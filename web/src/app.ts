/**
 * The logged-in app: one MessengerClient (SDK) with device-scoped localStorage stores, the chat
 * store it feeds, and the views, and what spans views: which chat or panel the URL (routes.ts)
 * opens, the layout (sidebar with its header, invites and chat list; the conversation pane;
 * banners and notices), the message actions and browser notifications, and the start and end of
 * it all. The parts are wired here and live in their own modules: the open chat's wiring
 * (open-chat.ts), read markers (read-markers.ts), the connection (connection.ts), invites and
 * account notices from the mailbox (mailbox-news.ts) and the end of the session (session-end.ts:
 * logout, deletion, `session_ended`, another tab). The SDK renews the access token with the
 * refresh token and hands every rotated session to session.ts.
 */
import { MessengerClient, TypingIndicators } from '../../client/index.ts';
import { MessageActions } from './actions.ts';
import { ChatStore, chatKey, keyOfRef } from './chat-store.ts';
import { followConnection } from './connection.ts';
import { Directory } from './directory.ts';
import { h } from './dom.ts';
import { friendlyError } from './errors.ts';
import { followMailboxNews } from './mailbox-news.ts';
import { usePictureUrls } from './media/avatars.ts';
import { mediaAdapter } from './media/sdk.ts';
import { Notifier } from './notifications.ts';
import { openConversation, type ChatServices } from './open-chat.ts';
import { mediaSender } from './media/send.ts';
import { UploadTracker } from './media/uploads.ts';
import { SignedUrls } from './media/urls.ts';
import { sdkPresence } from './presence.ts';
import { ReadMarkers } from './read-markers.ts';
import { chatKeyFromHash, hashOfChat, joinCodeFromHash, SETTINGS_HASH } from './routes.ts';
import { saveSession, sharedRefresh, type Session } from './session.ts';
import { SessionEnd } from './session-end.ts';
import { LocalCursorStore, LocalLargeGroupCursorStore, LocalOutboxStore } from './stores.ts';
import { Sync } from './sync.ts';
import { ConnectionBanner, DelayNotice, NotificationsBanner } from './views/banners.ts';
import { ChatListView } from './views/chat-list.ts';
import type { ConversationView } from './views/conversation.ts';
import { closeMessageMenu, messageMenuOpen } from './views/message-menu.ts';
import { SearchView } from './views/search.ts';
import { openStarred } from './views/starred.ts';
import { openCreateGroup } from './views/groups.ts';
import { InvitesView } from './views/invites.ts';
import { openJoinLink } from './views/join.ts';
import { openNewChat } from './views/new-chat.ts';
import { SettingsView } from './views/settings.ts';
import { SidebarHeader } from './views/sidebar-header.ts';
import { Toasts } from './views/toasts.ts';

export interface AppOptions {
  root: HTMLElement;
  session: Session;
  /** Server origin (the page's own origin when served by the Worker). */
  baseUrl: string;
  /** The session ended (logout, revoked, account deleted): show the login, optionally with a reason. */
  onLoggedOut(notice?: string): void;
}

export function startApp(options: AppOptions): { dispose(): void } {
  const { session } = options;
  const client: MessengerClient = new MessengerClient({
    baseUrl: options.baseUrl,
    session,
    // Renewals and the end: the end is handled where it is known why (session-end.ts: 'session_ended', logout, deletion).
    onSession: (renewed) => {
      if (renewed !== null) saveSession(renewed, session.phone);
    },
    refreshSession: sharedRefresh(() => client.api, session.phone),
    cursorStore: new LocalCursorStore(session.deviceId),
    largeGroupCursorStore: new LocalLargeGroupCursorStore(session.deviceId),
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
  /** The search panel, in the chat list's place while open. */
  let search: SearchView | null = null;
  let disposed = false;
  /** A message to show once its chat's view is open (starred messages, notifications; search hits with their seq). */
  let jumpTo: { key: string; id: string; seq?: number } | null = null;
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
  const services: ChatServices = {
    client,
    store,
    directory,
    sync,
    presence,
    typingIndicators: typing,
    drafts,
    actions,
    media: { urls, uploads },
    describeError: friendlyError,
    sendMedia,
    uploadAvatar,
    navigate: (key) => navigate(key),
    search: (key) => openSearch(key),
  };
  const notifier = new Notifier({
    api: client.api,
    directory,
    offer: (accept) => notificationsBanner.show(accept),
    open: (key) => navigate(key),
    // Called before the store takes the message in (sync starts listening later).
    known: (id) => store.message(id) !== undefined,
  });

  // ------------------------------------------------------------ layout

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
  const sidebarHeader = new SidebarHeader({
    directory,
    userId: session.userId,
    phone: session.phone,
    onSearch: () => openSearch(null),
    onNewChat: () => openNewChat({ api: client.api, directory, onFound: (id) => navigate(chatKey('direct', id)) }),
    onNewGroup: () => openCreateGroup({ api: client.api, directory, onCreated: (id) => navigate(chatKey('group', id)) }),
    onStarred: () =>
      openStarred({
        directory,
        load: (before) => client.starred(before === undefined ? { limit: 30 } : { before, limit: 30 }),
        open: (key, id) => openAt(key, id),
        describeError: friendlyError,
      }),
    onSettings: () => openSettings(),
    onLogout: () => void sessionEnd.logout(),
  });
  const listPane = [sidebarHeader.el, notificationsBanner.el, invites.el, chatList.el];
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

  /** Open a chat (or the list with null) through the URL, so Back works on phones. */
  function navigate(key: string | null): void {
    const hash = hashOfChat(key);
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

  /**
   * The search panel in the chat list's place, over every chat (`scope` null) or one chat. On a
   * phone it takes the whole screen (`data-view="search"` while a chat is open behind it).
   */
  function openSearch(scope: string | null): void {
    if (settings !== null) return;
    if (search === null) {
      search = new SearchView({
        directory,
        search: (query, signal) => client.search(query, signal),
        open: (hit) => {
          const key = keyOfRef(hit.chat);
          if (view?.chat.key === key) {
            shell.dataset.view = 'chat';
            // A hit in a large group's log has no mailbox seq: the view finds the message by id.
            void (hit.seq === null ? view.showMessage(hit.messageId) : view.showHit(hit.messageId, hit.seq));
            return;
          }
          jumpTo = hit.seq === null ? { key, id: hit.messageId } : { key, id: hit.messageId, seq: hit.seq };
          navigate(key);
        },
        onClose: () => closeSearch(),
        describeError: friendlyError,
      });
      sidebar.replaceChildren(search.el);
    }
    search.setScope(scope);
    if (view !== null) shell.dataset.view = 'search';
    search.focus();
  }

  function closeSearch(): void {
    if (search === null) return;
    const scoped = shell.dataset.view === 'search';
    search.dispose();
    search = null;
    sidebar.replaceChildren(...listPane);
    if (view !== null && scoped) {
      // Opened from the chat (on a phone, over it): back to it.
      shell.dataset.view = 'chat';
      view.searchButton.focus();
    } else sidebarHeader.searchButton.focus();
  }

  function openSettings(): void {
    if (location.hash === SETTINGS_HASH) route();
    else location.hash = SETTINGS_HASH;
  }

  /** The settings panel takes the chat list's place in the sidebar (on phones, the whole screen). */
  function showSettings(open: boolean): void {
    if (open === (settings !== null)) return;
    if (open) {
      if (search !== null) {
        search.dispose();
        search = null;
      }
      settings = new SettingsView({
        api: client.api,
        directory,
        session,
        onClose: () => navigate(null),
        deleteAccount: (phone) => sessionEnd.deleteAccount(phone),
        uploadAvatar,
      });
      sidebar.replaceChildren(settings.el);
      settings.focus();
      return;
    }
    settings = null;
    sidebar.replaceChildren(...listPane);
    sidebarHeader.settingsButton.focus();
  }

  function route(): void {
    const code = joinCodeFromHash(location.hash);
    if (code !== null) {
      // Shown once: a reload or Back does not offer it again.
      history.replaceState(null, '', `${location.pathname}#/`);
      openJoinLink({ api: client.api, directory, code, onJoined: (groupId) => navigate(chatKey('group', groupId)) });
    }
    showSettings(location.hash === SETTINGS_HASH);
    const key = chatKeyFromHash(location.hash);
    if (view?.chat.key === key) return;
    const previous = view?.chat.key ?? null;
    closeMessageMenu();
    view?.dispose();
    view = null;
    if (key === null) {
      main.replaceChildren(placeholder);
      shell.dataset.view = 'list';
      chatList.setActive(null);
      if (previous !== null && settings === null && search === null) chatList.focus(previous);
      return;
    }
    view = openConversation(store.chat(key), services);
    main.replaceChildren(view.el);
    shell.dataset.view = 'chat';
    chatList.setActive(key);
    view.focusComposer();
    if (jumpTo?.key === key) void (jumpTo.seq === undefined ? view.showMessage(jumpTo.id) : view.showHit(jumpTo.id, jumpTo.seq));
    jumpTo = null;
    readMarkers.schedule();
  }

  // ------------------------------------------------------------ read markers and the title

  const readMarkers = new ReadMarkers({ client, store, actions, openChat: () => view?.chat ?? null });
  store.on('changed', ({ key }) => {
    if (view !== null && (key === null || key === view.chat.key)) readMarkers.schedule();
    const unread = store.totalUnread();
    document.title = unread > 0 ? `(${unread}) Messenger` : 'Messenger';
  });

  // ------------------------------------------------------------ connection and mailbox news

  followConnection({ client, typing, banner, delayNotice, shell, signal });
  client.on('hello', () => {
    // History that failed to load (offline) is fetched again once connected.
    if (view !== null && view.chat.history === 'error') void sync.loadHistory(view.chat.key, view.chat.older !== undefined);
    readMarkers.schedule();
    // Invites answered on another device while this one was away.
    void invites.load();
  });
  client.on('message', ({ message }) => notifier.incoming(message));
  client.on('group_message', ({ message }) => notifier.incoming(message));
  client.on('group_log_entry', ({ entry }) => entry.type === 'message' && notifier.incoming(entry.message));
  followMailboxNews({
    client,
    userId: session.userId,
    deviceId: session.deviceId,
    invites,
    toasts,
    reviewDevices: () => (settings === null ? openSettings() : settings.showDevices()),
  });
  client.on('error', (error) => {
    // Not shown to users (nothing they can do); kept for developers.
    console.warn(`[messenger] ${error.code}: ${error.message}`);
  });

  document.addEventListener('visibilitychange', () => readMarkers.schedule(), { signal });
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

  const sessionEnd = new SessionEnd({
    client,
    directory,
    session,
    dispose: () => dispose(),
    disposed: () => disposed,
    onLoggedOut: (notice) => options.onLoggedOut(notice),
    signal,
  });

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
    search?.dispose();
    search = null;
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
  client.api.me().then((me) => directory.rememberProfile(me), () => undefined);
  directory.loadGroups().catch(() => undefined);
  client.api.contacts().then((list) => directory.rememberContacts(list.contacts), () => undefined);
  void sync.loadConversations();
  void invites.load();
  void client.connect();
  route();

  return { dispose };
}
