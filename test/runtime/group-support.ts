/**
 * Helpers for group runtime tests: create groups through the real HTTP API, read a member's
 * mailbox copy of a group, and wait for fan-out to settle.
 */
import { env } from 'cloudflare:workers';
import { expect } from 'vitest';
import {
  PATHS,
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

export async function createGroup(
  owner: SessionResponse,
  members: SessionResponse[],
  extra: Record<string, unknown> = {},
): Promise<Group> {
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

/** A member's mailbox copy of the group, oldest first (entries only). */
export async function mailboxCopy(session: SessionResponse, groupId: string): Promise<GroupEntry[]> {
  const res = await api(`${PATHS.groupHistory(groupId)}?limit=200`, { token: session.token });
  if (res.status !== 200) return [];
  const page = (await res.json()) as GroupHistoryPage;
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
