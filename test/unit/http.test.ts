import { describe, expect, it } from 'vitest';
import { MessengerApi, MessengerError } from '../../client/index.ts';
import type { FetchLike } from '../../client/index.ts';
import type { BlockList, Contact, ContactList, Group, GroupHistoryPage, MessageInfo } from '../../protocol/index.ts';
import { GROUP, ME, PEER, json, ulid } from './fake-socket.ts';

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function fakeFetch(respond: (call: Call) => Response | Promise<Response>): { fetch: FetchLike; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    fetch: async (url, init) => {
      const call = { url, init };
      calls.push(call);
      return respond(call);
    },
  };
}

const profile = { userId: ME, displayName: 'Me', about: '', photo: null, phone: '+15550000001' };

describe('MessengerApi', () => {
  it('sends the bearer token and returns the validated body', async () => {
    const { fetch, calls } = fakeFetch(() => json(profile));
    const api = new MessengerApi({ baseUrl: 'http://api.test/', token: 'secret', fetch });
    await expect(api.me()).resolves.toEqual(profile);
    expect(calls[0]?.url).toBe('http://api.test/v1/me');
    expect(new Headers(calls[0]?.init?.headers).get('authorization')).toBe('Bearer secret');
  });

  it('posts JSON bodies without auth for the login endpoints', async () => {
    const challenge = 'abcdefghijklmnopqrstuvwxyz012345';
    const { fetch, calls } = fakeFetch((call) =>
      call.url.endsWith('/v1/auth/otp')
        ? json({ phone: '+15550000001', challenge, expiresAt: 5, resendAt: 3, devCode: '123456' })
        : json({ token: 'tok', refreshToken: 'refresh-token-0001', userId: ME, deviceId: ulid(2), expiresAt: 9, newUser: false, history: true }),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', fetch });
    const otp = await api.requestOtp('555 000 0001');
    expect(otp).toEqual({ phone: '+15550000001', challenge, expiresAt: 5, resendAt: 3, devCode: '123456' });
    expect(calls[0]?.init?.method).toBe('POST');
    expect(calls[0]?.init?.body).toBe(JSON.stringify({ phone: '555 000 0001' }));
    expect(new Headers(calls[0]?.init?.headers).has('authorization')).toBe(false);
    await api.verifyOtp({ phone: otp.phone, code: '123456', challenge: otp.challenge });
    expect(JSON.parse(String(calls[1]?.init?.body))).toEqual({ phone: '+15550000001', code: '123456', challenge });
    expect(new Headers(calls[1]?.init?.headers).has('authorization')).toBe(false);
  });

  it('connectTicket() POSTs /v1/connect/ticket with the bearer token and validates the answer', async () => {
    const { fetch, calls } = fakeFetch(() => json({ ticket: 'single-use', expiresAt: 30_000 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 'long-lived', fetch });
    await expect(api.connectTicket()).resolves.toEqual({ ticket: 'single-use', expiresAt: 30_000 });
    expect(calls.map((c) => [c.init?.method, c.url, new Headers(c.init?.headers).get('authorization')])).toEqual([
      ['POST', 'http://api.test/v1/connect/ticket', 'Bearer long-lived'],
    ]);
    const bad = fakeFetch(() => json({ ticket: '' , expiresAt: 1 }));
    await expect(new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: bad.fetch }).connectTicket()).rejects.toMatchObject({
      code: 'internal',
      retryable: false,
    });
    const none = fakeFetch(() => json({ ticket: 'x', expiresAt: 1 }));
    await expect(new MessengerApi({ baseUrl: 'http://api.test', fetch: none.fetch }).connectTicket()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(none.calls).toHaveLength(0);
  });

  it('carries retryAfterMs from the error body, else from Retry-After, and leaves it out otherwise', async () => {
    const limited = { error: { code: 'rate_limited', message: 'Too many requests; slow down', retryable: true, retryAfterMs: 1_234 } };
    const fromBody = fakeFetch(() => json(limited, 429));
    const api = (f: FetchLike): MessengerApi => new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: f });
    await expect(api(fromBody.fetch).me()).rejects.toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 1_234 });

    const bodyWins = fakeFetch(() => new Response(JSON.stringify(limited), { status: 429, headers: { 'Retry-After': '2' } }));
    await expect(api(bodyWins.fetch).me()).rejects.toMatchObject({ retryAfterMs: 1_234 });

    const proxyPage = fakeFetch(() => new Response('<html>Too Many Requests</html>', { status: 429, headers: { 'Retry-After': '7' } }));
    await expect(api(proxyPage.fetch).me()).rejects.toMatchObject({ code: 'rate_limited', retryAfterMs: 7_000 });

    const noWait = fakeFetch(() => json({ error: { code: 'user_not_found', message: 'No such user', retryable: false } }, 404));
    const error = await api(noWait.fetch).me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessengerError);
    expect((error as MessengerError).retryAfterMs).toBeUndefined();
  });

  it('MessengerError.fromFrame keeps an error frame\'s retryAfterMs', () => {
    const error = MessengerError.fromFrame({ code: 'rate_limited', message: 'slow down', retryable: true, retryAfterMs: 250 });
    expect(error).toMatchObject({ code: 'rate_limited', status: 429, retryable: true, retryAfterMs: 250 });
    expect(MessengerError.fromFrame({ code: 'forbidden', message: 'no', retryable: false }).retryAfterMs).toBeUndefined();
  });

  it('builds the history query string', async () => {
    const { fetch, calls } = fakeFetch(() => json({ messages: [], nextBefore: null }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await api.history(PEER, { before: 40, limit: 20 });
    expect(calls[0]?.url).toBe(`http://api.test/v1/conversations/${PEER}/messages?before=40&limit=20`);
  });

  it('resolves 204 endpoints with undefined', async () => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.revokeDevice(ulid(3))).resolves.toBeUndefined();
    expect(calls[0]?.init?.method).toBe('DELETE');
  });

  it('throws MessengerError with the server code, status and retryable flag', async () => {
    const { fetch } = fakeFetch(() =>
      json({ error: { code: 'user_not_found', message: 'No such user', retryable: false } }, 404),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    const error = await api.user(PEER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessengerError);
    expect(error).toMatchObject({ code: 'user_not_found', status: 404, retryable: false, message: 'No such user' });
  });

  it('maps a non-protocol error page by status', async () => {
    const { fetch } = fakeFetch(() => new Response('<html>Bad gateway</html>', { status: 502 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'unavailable', status: 502, retryable: true });
  });

  it('turns network failures into a retryable unavailable error', async () => {
    const api = new MessengerApi({
      baseUrl: 'http://api.test',
      token: 't',
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    });
    await expect(api.me()).rejects.toMatchObject({ code: 'unavailable', retryable: true });
  });

  it('rejects a 2xx body that does not match the protocol as a non-retryable internal error', async () => {
    const { fetch } = fakeFetch(() => json({ userId: 'not-a-ulid' }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('refuses authenticated calls without a token, before touching the network', async () => {
    const { fetch, calls } = fakeFetch(() => json(profile));
    const api = new MessengerApi({ baseUrl: 'http://api.test', fetch });
    await expect(api.me()).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(0);
  });
});

describe('MessengerApi groups', () => {
  const group: Group = {
    groupId: GROUP,
    title: 'Team',
    description: '',
    picture: null,
    onlyAdminsSend: false,
    createdBy: ME,
    createdAt: 1,
    head: 2,
    memberCount: 2,
    members: [
      { userId: ME, role: 'admin', joinedAt: 1 },
      { userId: PEER, role: 'member', joinedAt: 1 },
    ],
    invites: [{ userId: ulid(40), invitedBy: ME, at: 3 }],
  };
  const groupList = { groups: [{ groupId: GROUP, title: 'Team', picture: null, role: 'admin', memberCount: 2 }], nextBefore: ulid(19) };
  const CODE = 'AbCdEfGhIjKlMnOpQrStUv';
  const link = { groupId: GROUP, code: CODE, approval: true, createdBy: ME, createdAt: 8 };
  const MESSAGE = ulid(300);
  const historyPage: GroupHistoryPage = {
    entries: [
      {
        seq: 12,
        entry: {
          type: 'message',
          message: { id: MESSAGE, group: GROUP, gseq: 2, clientId: 'c1', from: ME, fromDevice: ulid(2), sentAt: 5, body: { kind: 'text', text: 'hi' } },
        },
        tally: { messageId: MESSAGE, gseq: 2, of: 1, delivered: 1, read: 0 },
        read: true,
      },
      {
        seq: 11,
        entry: { type: 'event', event: { id: ulid(301), group: GROUP, gseq: 1, by: ME, at: 4, change: { kind: 'created', title: 'Team' } } },
        tally: null,
        read: true,
      },
    ],
    nextBefore: null,
  };
  const info: MessageInfo = {
    messageId: MESSAGE,
    gseq: 2,
    tally: { messageId: MESSAGE, gseq: 2, of: 1, delivered: 1, read: 1 },
    delivered: [{ userId: PEER, at: 6 }],
    read: [{ userId: PEER, at: 7 }],
  };
  const base = `http://api.test/v1/groups/${GROUP}`;

  /** Each method, the request it must make, and a valid response for it. */
  const cases: Array<{
    name: string;
    call: (api: MessengerApi) => Promise<unknown>;
    method: string;
    url: string;
    body?: unknown;
    /** Response status; default 200. */
    status?: number;
    response: unknown;
  }> = [
    {
      name: 'createGroup',
      call: (api) => api.createGroup({ title: 'Team', members: [PEER] }),
      method: 'POST',
      url: 'http://api.test/v1/groups',
      body: { title: 'Team', members: [PEER] },
      status: 201,
      response: group,
    },
    { name: 'groups', call: (api) => api.groups(), method: 'GET', url: 'http://api.test/v1/groups', response: groupList },
    {
      name: 'groups (next page)',
      call: (api) => api.groups({ before: ulid(19), limit: 5 }),
      method: 'GET',
      url: `http://api.test/v1/groups?before=${ulid(19)}&limit=5`,
      response: { ...groupList, nextBefore: null },
    },
    {
      name: 'invites',
      call: (api) => api.invites({ limit: 10 }),
      method: 'GET',
      url: 'http://api.test/v1/invites?limit=10',
      response: { invites: [{ groupId: GROUP, title: 'Team', memberCount: 2, invitedBy: PEER, at: 4 }], nextBefore: null },
    },
    { name: 'acceptInvite', call: (api) => api.acceptInvite(GROUP), method: 'POST', url: `http://api.test/v1/invites/${GROUP}/accept`, response: group },
    { name: 'withdrawInvite', call: (api) => api.withdrawInvite(GROUP, PEER), method: 'DELETE', url: `${base}/invites/${PEER}`, response: group },
    {
      name: 'createLink',
      call: (api) => api.createLink(GROUP, { approval: true }),
      method: 'POST',
      url: `${base}/link`,
      body: { approval: true },
      status: 201,
      response: link,
    },
    {
      name: 'createLink (no approval)',
      call: (api) => api.createLink(GROUP),
      method: 'POST',
      url: `${base}/link`,
      body: { approval: false },
      response: { ...link, approval: false },
    },
    { name: 'groupLink', call: (api) => api.groupLink(GROUP), method: 'GET', url: `${base}/link`, response: link },
    {
      name: 'linkPreview',
      call: (api) => api.linkPreview(CODE),
      method: 'GET',
      url: `http://api.test/v1/links/${CODE}`,
      response: { groupId: GROUP, title: 'Team', description: '', memberCount: 2, approval: true },
    },
    {
      name: 'joinByLink (joined)',
      call: (api) => api.joinByLink(CODE),
      method: 'POST',
      url: `http://api.test/v1/links/${CODE}/join`,
      response: { status: 'joined', group },
    },
    {
      name: 'joinByLink (requested)',
      call: (api) => api.joinByLink(CODE),
      method: 'POST',
      url: `http://api.test/v1/links/${CODE}/join`,
      status: 202,
      response: { status: 'requested', groupId: GROUP },
    },
    {
      name: 'joinRequests',
      call: (api) => api.joinRequests(GROUP),
      method: 'GET',
      url: `${base}/requests`,
      response: { requests: [{ userId: PEER, at: 9 }] },
    },
    { name: 'approveRequest', call: (api) => api.approveRequest(GROUP, PEER), method: 'POST', url: `${base}/requests/${PEER}/approve`, response: group },
    { name: 'group', call: (api) => api.group(GROUP), method: 'GET', url: base, response: group },
    {
      name: 'updateGroup',
      call: (api) => api.updateGroup(GROUP, { title: 'New', onlyAdminsSend: true }),
      method: 'PATCH',
      url: base,
      body: { title: 'New', onlyAdminsSend: true },
      response: group,
    },
    {
      name: 'addGroupMembers',
      call: (api) => api.addGroupMembers(GROUP, [PEER]),
      method: 'POST',
      url: `${base}/members`,
      body: { members: [PEER] },
      response: group,
    },
    { name: 'removeGroupMember', call: (api) => api.removeGroupMember(GROUP, PEER), method: 'DELETE', url: `${base}/members/${PEER}`, response: group },
    { name: 'promoteAdmin', call: (api) => api.promoteAdmin(GROUP, PEER), method: 'PUT', url: `${base}/admins/${PEER}`, response: group },
    { name: 'demoteAdmin', call: (api) => api.demoteAdmin(GROUP, PEER), method: 'DELETE', url: `${base}/admins/${PEER}`, response: group },
    {
      name: 'groupHistory',
      call: (api) => api.groupHistory(GROUP, { before: 13, limit: 2 }),
      method: 'GET',
      url: `${base}/messages?before=13&limit=2`,
      response: historyPage,
    },
    { name: 'groupHistory (newest page)', call: (api) => api.groupHistory(GROUP), method: 'GET', url: `${base}/messages`, response: historyPage },
    { name: 'messageInfo', call: (api) => api.messageInfo(GROUP, MESSAGE), method: 'GET', url: `${base}/messages/${MESSAGE}/info`, response: info },
  ];

  it.each(cases)('$name makes $method $url and returns the validated body', async ({ call, method, url, body, status, response }) => {
    const { fetch, calls } = fakeFetch(() => json(response, status ?? 200));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(call(api)).resolves.toEqual(response);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(url);
    expect(calls[0]?.init?.method).toBe(method);
    expect(new Headers(calls[0]?.init?.headers).get('authorization')).toBe('Bearer t');
    expect(calls[0]?.init?.body).toBe(body === undefined ? undefined : JSON.stringify(body));
  });

  it.each(cases)('$name rejects a response that does not match the protocol', async ({ call, response }) => {
    // The schemas are strict: a server that drifts (here: one unknown field) must fail loudly.
    const broken = { ...(response as Record<string, unknown>), unexpected: 1 };
    const { fetch } = fakeFetch(() => json(broken));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(call(api)).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('groupMembers() pages by user id with after and limit, and validates the page', async () => {
    const page = { members: [{ userId: PEER, role: 'member', joinedAt: 5 }], nextAfter: PEER };
    const { fetch, calls } = fakeFetch(() => json(page));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.groupMembers(GROUP)).resolves.toEqual(page);
    await expect(api.groupMembers(GROUP, { after: PEER, limit: 2 })).resolves.toEqual(page);
    expect(calls.map((c) => `${c.init?.method} ${c.url}`)).toEqual([`GET ${base}/members`, `GET ${base}/members?after=${PEER}&limit=2`]);
    const bad = fakeFetch(() => json({ members: [{ userId: PEER }], nextAfter: null }));
    const refused = await new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: bad.fetch }).groupMembers(GROUP).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(MessengerError);
    expect((refused as MessengerError).code).toBe('internal');
  });

  it('leaveGroup posts to the leave path and resolves a 204 with undefined', async () => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.leaveGroup(GROUP)).resolves.toBeUndefined();
    expect(calls.map((c) => `${c.init?.method} ${c.url}`)).toEqual([`POST ${base}/leave`]);
  });

  it.each([
    { name: 'declineInvite', call: (api: MessengerApi) => api.declineInvite(GROUP), request: `POST http://api.test/v1/invites/${GROUP}/decline` },
    { name: 'revokeLink', call: (api: MessengerApi) => api.revokeLink(GROUP), request: `DELETE ${base}/link` },
    { name: 'declineRequest', call: (api: MessengerApi) => api.declineRequest(GROUP, PEER), request: `DELETE ${base}/requests/${PEER}` },
  ])('$name answers 204 with undefined', async ({ call, request }) => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(call(api)).resolves.toBeUndefined();
    expect(calls.map((c) => `${c.init?.method} ${c.url}`)).toEqual([request]);
  });

  it('groupLink() is null when the group has no link, and other errors still reject', async () => {
    const none = fakeFetch(() => json({ error: { code: 'link_not_found', message: 'No such invite link', retryable: false } }, 404));
    await expect(new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: none.fetch }).groupLink(GROUP)).resolves.toBeNull();
    const admins = fakeFetch(() => json({ error: { code: 'not_group_admin', message: 'Only group admins may do this', retryable: false } }, 403));
    await expect(new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: admins.fetch }).groupLink(GROUP)).rejects.toMatchObject({
      code: 'not_group_admin',
    });
  });

  it('a group list without nextBefore (a server from before paging) no longer matches the protocol', async () => {
    const { fetch } = fakeFetch(() => json({ groups: groupList.groups }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.groups()).rejects.toMatchObject({ code: 'internal' });
  });

  it('surfaces group error codes from the server', async () => {
    const { fetch } = fakeFetch(() => json({ error: { code: 'last_admin', message: 'promote someone first', retryable: false } }, 409));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.demoteAdmin(GROUP, ME)).rejects.toMatchObject({ code: 'last_admin', status: 409, retryable: false });
  });

  it('conversations() returns direct and group chats, told apart by kind', async () => {
    const direct = {
      kind: 'direct',
      peer: PEER,
      last: {
        seq: 10,
        message: { id: ulid(302), clientId: 'd1', from: PEER, fromDevice: ulid(11), to: ME, sentAt: 3, body: { kind: 'text', text: 'yo' } },
        status: 'delivered',
      },
      unread: 1,
      markedUnread: false,
    };
    const groupChat = { kind: 'group', group: GROUP, last: historyPage.entries[0], unread: 0, markedUnread: false };
    const { fetch } = fakeFetch(() => json({ conversations: [groupChat, direct], nextBefore: null }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    const { conversations } = await api.conversations();
    expect(conversations.map((c) => (c.kind === 'direct' ? `direct:${c.peer}` : `group:${c.group}`))).toEqual([
      `group:${GROUP}`,
      `direct:${PEER}`,
    ]);
    // A pre-groups server (no `kind`) no longer matches the protocol.
    const { fetch: oldFetch } = fakeFetch(() => json({ conversations: [{ ...direct, kind: undefined }], nextBefore: null }));
    const oldApi = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch: oldFetch });
    await expect(oldApi.conversations()).rejects.toMatchObject({ code: 'internal' });
  });
});

describe('MessengerApi contacts and blocking', () => {
  const contact: Contact = { userId: PEER, phone: '+15550000002', displayName: 'Ann', photo: null, name: 'Ann (climbing)', addedAt: 5 };
  const contactList: ContactList = { contacts: [contact] };
  const blockList: BlockList = { blocked: [{ userId: PEER, at: 6 }] };

  /** Each method, the request it must make, and its response (null: 204 No Content). */
  const cases: Array<{
    name: string;
    call: (api: MessengerApi) => Promise<unknown>;
    method: string;
    url: string;
    body?: unknown;
    status?: number;
    response: unknown;
  }> = [
    { name: 'contacts', call: (api) => api.contacts(), method: 'GET', url: 'http://api.test/v1/contacts', response: contactList },
    {
      name: 'addContact (with label)',
      call: (api) => api.addContact('+1 555 000 0002', 'Ann (climbing)'),
      method: 'POST',
      url: 'http://api.test/v1/contacts',
      body: { phone: '+1 555 000 0002', name: 'Ann (climbing)' },
      status: 201,
      response: contact,
    },
    {
      name: 'addContact (no label)',
      call: (api) => api.addContact('5550000002'),
      method: 'POST',
      url: 'http://api.test/v1/contacts',
      body: { phone: '5550000002' },
      status: 201,
      response: { ...contact, name: '' },
    },
    { name: 'removeContact', call: (api) => api.removeContact(PEER), method: 'DELETE', url: `http://api.test/v1/contacts/${PEER}`, status: 204, response: null },
    { name: 'blockedUsers', call: (api) => api.blockedUsers(), method: 'GET', url: 'http://api.test/v1/blocks', response: blockList },
    { name: 'block', call: (api) => api.block(PEER), method: 'PUT', url: `http://api.test/v1/blocks/${PEER}`, status: 204, response: null },
    { name: 'unblock', call: (api) => api.unblock(PEER), method: 'DELETE', url: `http://api.test/v1/blocks/${PEER}`, status: 204, response: null },
  ];
  const withBody = cases.filter((c) => c.response !== null);

  it.each(cases)('$name makes $method $url with auth and resolves with the validated body', async ({ call, method, url, body, status, response }) => {
    const { fetch, calls } = fakeFetch(() => (response === null ? new Response(null, { status: 204 }) : json(response, status ?? 200)));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(call(api)).resolves.toEqual(response === null ? undefined : response);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe(url);
    expect(calls[0]?.init?.method).toBe(method);
    const headers = new Headers(calls[0]?.init?.headers);
    expect(headers.get('authorization')).toBe('Bearer t');
    expect(calls[0]?.init?.body).toBe(body === undefined ? undefined : JSON.stringify(body));
    expect(headers.get('content-type')).toBe(body === undefined ? null : 'application/json');
  });

  it.each(cases)('$name refuses to run without a token', async ({ call }) => {
    const { fetch, calls } = fakeFetch(() => json({}));
    const api = new MessengerApi({ baseUrl: 'http://api.test', fetch });
    await expect(call(api)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(calls).toHaveLength(0);
  });

  it.each(withBody)('$name rejects a response that does not match the protocol', async ({ call, response, status }) => {
    const broken = { ...(response as Record<string, unknown>), unexpected: 1 };
    const { fetch } = fakeFetch(() => json(broken, status ?? 200));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(call(api)).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('rejects malformed entries inside the lists', async () => {
    const { fetch } = fakeFetch((c) =>
      c.url.endsWith('/v1/contacts')
        ? json({ contacts: [{ ...contact, userId: 'not-a-ulid' }] })
        : json({ blocked: [{ userId: PEER, at: 'yesterday' }] }),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await expect(api.contacts()).rejects.toMatchObject({ code: 'internal', retryable: false });
    await expect(api.blockedUsers()).rejects.toMatchObject({ code: 'internal', retryable: false });
  });

  it('escapes the user id in the path', async () => {
    const { fetch, calls } = fakeFetch(() => new Response(null, { status: 204 }));
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    await api.block('a/b?c');
    expect(calls[0]?.url).toBe('http://api.test/v1/blocks/a%2Fb%3Fc');
  });

  it.each([
    { name: 'addContact', call: (api: MessengerApi) => api.addContact('+15550000001') },
    { name: 'block', call: (api: MessengerApi) => api.block(ME) },
  ])('$name surfaces self_reference as a MessengerError', async ({ call }) => {
    const { fetch } = fakeFetch(() =>
      json({ error: { code: 'self_reference', message: 'You cannot add or block yourself', retryable: false } }, 400),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    const error = await call(api).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MessengerError);
    expect(error).toMatchObject({ code: 'self_reference', status: 400, retryable: false, message: 'You cannot add or block yourself' });
  });

  it('passes the caller\'s signal through, so an aborted call rejects with its reason', async () => {
    const { fetch } = fakeFetch(
      (c) =>
        new Promise<Response>((_resolve, reject) => {
          c.init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError')));
        }),
    );
    const api = new MessengerApi({ baseUrl: 'http://api.test', token: 't', fetch });
    const controller = new AbortController();
    const pending = api.contacts(controller.signal);
    const reason = new Error('user navigated away');
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
  });
});
