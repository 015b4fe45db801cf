/**
 * Helpers for group runtime tests: create groups through the real HTTP API, set who may add
 * whom (privacy, contacts, blocks: through the real routes, which mirror them to D1), read a
 * member's mailbox copy of a group, and wait for fan-out to settle.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect } from 'vitest';
import {
  PATHS,
  type Audience,
  type Group,
  type GroupEntry,
  type GroupHistoryPage,
  type ServerFrame,
  type SessionResponse,
} from '../../protocol/index.ts';
import { gseqOf } from '../../durable-objects/mailbox/group-inbox.ts';
import { groupOf } from '../../durable-objects/stubs.ts';
import { api, login, nextPhone } from './support.ts';

export { gseqOf };

export async function users(n: number): Promise<SessionResponse[]> {
  return Promise.all(Array.from({ length: n }, (_, i) => login(nextPhone(), `user-${i}`)));
}

/** Set who may add `session` to groups directly (PATCH /v1/me/settings; the route mirrors it to D1). */
export async function allowGroupAdds(session: SessionResponse, groups: Audience): Promise<void> {
  const res = await api(PATHS.settings, { method: 'PATCH', token: session.token, body: JSON.stringify({ privacy: { groups } }) });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** Let anyone add these people to groups directly (what tests of group mechanics need). */
export async function openToGroups(...sessions: SessionResponse[]): Promise<void> {
  await Promise.all(sessions.map((s) => allowGroupAdds(s, 'everyone')));
}

/** `owner` puts `other` in their contacts (by phone number, as a client does). */
export async function addContact(owner: SessionResponse, other: SessionResponse): Promise<void> {
  const me = await api(PATHS.me, { token: other.token });
  const { phone } = (await me.json()) as { phone: string };
  const res = await api(PATHS.contacts, { method: 'POST', token: owner.token, body: JSON.stringify({ phone }) });
  expect(res.status, await res.clone().text()).toBe(201);
}

/** `owner` blocks `other` (the route mirrors the block to D1). */
export async function block(owner: SessionResponse, other: SessionResponse): Promise<void> {
  const res = await api(PATHS.block(other.userId), { method: 'PUT', token: owner.token });
  expect(res.status, await res.clone().text()).toBe(204);
}

/**
 * Create a group with `members` in it as members: they are first opened to group adds, so this
 * tests group mechanics, not consent (group-consent.test.ts creates groups through the API).
 */
export async function createGroup(
  owner: SessionResponse,
  members: SessionResponse[],
  extra: Record<string, unknown> = {},
): Promise<Group> {
  await openToGroups(...members);
  const res = await api(PATHS.groups, {
    method: 'POST',
    token: owner.token,
    body: JSON.stringify({ title: 'Test group', members: members.map((m) => m.userId), ...extra }),
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as Group;
}

/** Call a group endpoint; returns status and parsed body. */
export async function call(
  method: string,
  path: string,
  session: SessionResponse,
  body?: unknown,
): Promise<{ status: number; body: { error?: { code: string } } & Record<string, unknown> }> {
  const res = await api(path, {
    method,
    token: session.token,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as never) : ({} as never) };
}

/** Wait until the group's fan-out has handed on everything in its log (direct or queued). */
export async function settled(groupId: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await groupOf(env, groupId).stats();
    if (stats.backlog === 0) return;
    if (Date.now() > deadline) throw new Error(`fan-out did not settle: ${JSON.stringify(stats)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A member's mailbox copy of the group, oldest first (entries only). The copied part is paged by
 * `before`: for a large group, history pages first come from its log (items without a seq).
 */
export async function mailboxCopy(session: SessionResponse, groupId: string): Promise<GroupEntry[]> {
  const before = `before=${Number.MAX_SAFE_INTEGER}`;
  const res = await api(`${PATHS.groupHistory(groupId)}?limit=200&${before}`, { token: session.token });
  if (res.status !== 200) return [];
  const page = (await res.json()) as GroupHistoryPage;
  expect(page.entries.every((e) => e.seq !== null)).toBe(true);
  return page.entries.map((e) => e.entry).reverse();
}

/** Wait until `predicate` holds for a member's mailbox copy of the group. */
export async function eventuallyCopy(
  session: SessionResponse,
  groupId: string,
  predicate: (entries: GroupEntry[]) => boolean,
  timeoutMs = 5_000,
): Promise<GroupEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const entries = await mailboxCopy(session, groupId);
    if (predicate(entries)) return entries;
    if (Date.now() > deadline) throw new Error(`mailbox copy never matched; have ${JSON.stringify(entries).slice(0, 1500)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Texts of the group messages among entries, in order. */
export function textsOf(entries: readonly GroupEntry[]): string[] {
  return entries.flatMap((e) => (e.type === 'message' && e.message.body.kind === 'text' ? [e.message.body.text] : []));
}

/** Gseqs of group frames received on a socket, in arrival order. */
export function frameGseqs(frames: readonly ServerFrame[], groupId: string): number[] {
  return frames.flatMap((f) => {
    if (f.type === 'group_message' && f.message.group === groupId) return [f.message.gseq];
    if (f.type === 'group_event' && f.event.group === groupId) return [f.event.gseq];
    return [];
  });
}

/** Wait until a member's receipts mark them active in the group (whom typing reaches). */
export async function becameActive(groupId: string, userId: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await runInDurableObject(groupOf(env, groupId), (_instance, state) =>
      state.storage.sql.exec<{ active_at: number }>('SELECT active_at FROM members WHERE user_id = ?', userId).toArray()[0],
    );
    if (row !== undefined && row.active_at > 0) return;
    if (Date.now() > deadline) throw new Error(`${userId} never became active in ${groupId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
