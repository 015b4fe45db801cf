/**
 * Presence without a timing side channel: a watcher is sent a frame only when what it may see
 * changes. A stranger watching someone whose presence is hidden from them gets the answer to
 * its watch and then nothing, however often that person comes and goes, changes settings or
 * blocks them; a contact who may see still gets every change.
 *
 * Silence is proven, not waited for: after the changes, the watched user sends the watcher a
 * message, which travels after any frame those changes would have caused.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { PATHS, type PresenceFrame, type SessionResponse } from '../../protocol/index.ts';
import { mailboxOf } from '../../durable-objects/stubs.ts';
import { addContact, call, users } from './group-support.ts';
import { connect, text, type TestSocket } from './support.ts';

function seen(socket: TestSocket, userId: string): PresenceFrame[] {
  return socket.of('presence').filter((p) => p.userId === userId);
}

async function nextPresence(socket: TestSocket, userId: string, count: number): Promise<PresenceFrame> {
  const frames = await socket.waitFor((f): f is PresenceFrame => f.type === 'presence' && f.userId === userId, count);
  return frames[count - 1]!;
}

async function settings(session: SessionResponse, privacy: Record<string, unknown>): Promise<void> {
  expect((await call('PATCH', PATHS.settings, session, { privacy })).status).toBe(200);
}

/** Wait until the user's object has taken in that their last connection closed. */
async function offline(session: SessionResponse): Promise<void> {
  await expect.poll(() => mailboxOf(env, session.userId).checkPresence()).toBe(false);
}

/** `from` (connected as `socket`) sends `to` a message and `toSocket` receives it: everything sent to `to` before has arrived. */
async function barrier(socket: TestSocket, to: SessionResponse, toSocket: TestSocket, id: string): Promise<void> {
  socket.send({ type: 'send', id, to: to.userId, body: text(id) });
  await toSocket.waitFor((f): f is never => f.type === 'message' && f.message.clientId === id);
}

/** Frames that told a watcher what it was told just before (there must be none). */
function repeats(frames: readonly PresenceFrame[]): PresenceFrame[] {
  return frames.filter((p, i) => i > 0 && p.online === frames[i - 1]!.online && p.lastSeen === frames[i - 1]!.lastSeen);
}

async function watchers(session: SessionResponse): Promise<string[]> {
  return runInDurableObject(mailboxOf(env, session.userId), async (_o, state) =>
    state.storage.sql.exec<{ viewer: string }>('SELECT viewer FROM presence_watchers ORDER BY viewer').toArray().map((r) => r.viewer),
  );
}

describe('presence timing', () => {
  it("a stranger watching someone with last seen 'nobody' gets the first answer, then nothing across comings and goings", async () => {
    const [ann, stranger] = await users(2);
    await settings(ann!, { lastSeen: 'nobody' });
    const s = await connect(stranger!);
    s.send({ type: 'presence_watch', users: [ann!.userId] });
    expect(await nextPresence(s, ann!.userId, 1)).toEqual({ type: 'presence', userId: ann!.userId, online: false, lastSeen: null });

    for (let round = 0; round < 3; round++) {
      const a = await connect(ann!);
      a.send({ type: 'active' });
      expect(await mailboxOf(env, ann!.userId).checkPresence()).toBe(true);
      a.close();
      await a.waitClosed();
      await offline(ann!);
    }
    const a = await connect(ann!);
    await barrier(a, stranger!, s, 'after-the-comings-and-goings');
    expect(seen(s, ann!.userId)).toHaveLength(1);
    // Still watching: the silence is the rule, not a dropped watcher.
    expect(await watchers(ann!)).toEqual([stranger!.userId]);
    a.close();
    s.close();
  });

  it('a contact still sees each change while a stranger watching at the same time sees none', async () => {
    const [ann, friend, stranger] = await users(3);
    await addContact(ann!, friend!);
    await addContact(friend!, ann!);
    const f = await connect(friend!);
    const s = await connect(stranger!);
    f.send({ type: 'presence_watch', users: [ann!.userId] });
    s.send({ type: 'presence_watch', users: [ann!.userId] });
    await nextPresence(f, ann!.userId, 1);
    await nextPresence(s, ann!.userId, 1);

    const a = await connect(ann!);
    expect(await nextPresence(f, ann!.userId, 2)).toMatchObject({ online: true });
    a.send({ type: 'active' });
    a.close();
    const gone = await nextPresence(f, ann!.userId, 3);
    expect(gone.online).toBe(false);
    expect(gone.lastSeen).toEqual(expect.any(Number));

    const again = await connect(ann!);
    expect(await nextPresence(f, ann!.userId, 4)).toMatchObject({ online: true });
    await barrier(again, stranger!, s, 'proof');
    expect(seen(s, ann!.userId)).toHaveLength(1);
    expect(seen(f, ann!.userId)).toHaveLength(4);
    for (const x of [again, f, s]) x.close();
  });

  it('settings changes reach only watchers whose view changes', async () => {
    const [ann, friend, stranger] = await users(3);
    await addContact(ann!, friend!);
    await addContact(friend!, ann!);
    await settings(ann!, { lastSeen: 'nobody' });
    const a = await connect(ann!);
    const f = await connect(friend!);
    const s = await connect(stranger!);
    f.send({ type: 'presence_watch', users: [ann!.userId] });
    s.send({ type: 'presence_watch', users: [ann!.userId] });
    expect(await nextPresence(f, ann!.userId, 1)).toMatchObject({ online: false, lastSeen: null });
    expect(await nextPresence(s, ann!.userId, 1)).toMatchObject({ online: false, lastSeen: null });

    // Shown to contacts again: the friend sees Ann online; the stranger's view is unchanged.
    await settings(ann!, { lastSeen: 'contacts' });
    expect(await nextPresence(f, ann!.userId, 2)).toMatchObject({ online: true });
    // Turning off read receipts is no presence change: nobody hears of it.
    await settings(ann!, { readReceipts: false });
    await barrier(a, stranger!, s, 'settings-1');
    expect(seen(s, ann!.userId)).toHaveLength(1);

    // Online for everyone: now the stranger's view changes, so the stranger is told.
    await settings(ann!, { online: 'everyone' });
    expect(await nextPresence(s, ann!.userId, 2)).toMatchObject({ online: true, lastSeen: null });
    await barrier(a, friend!, f, 'settings-2');
    // The friend may have been told Ann's newer last seen (her messages are activity), but never the same view twice.
    expect(repeats(seen(f, ann!.userId))).toEqual([]);
    expect(repeats(seen(s, ann!.userId))).toEqual([]);
    for (const x of [a, f, s]) x.close();
  });

  it('blocking tells the blocked watcher only if it saw something; unblocking tells it nothing', async () => {
    const [ann, friend, stranger] = await users(3);
    await addContact(ann!, friend!);
    await addContact(friend!, ann!);
    const a = await connect(ann!);
    const f = await connect(friend!);
    const s = await connect(stranger!);
    f.send({ type: 'presence_watch', users: [ann!.userId] });
    s.send({ type: 'presence_watch', users: [ann!.userId] });
    expect(await nextPresence(f, ann!.userId, 1)).toMatchObject({ online: true });
    expect(await nextPresence(s, ann!.userId, 1)).toMatchObject({ online: false, lastSeen: null });

    expect((await call('PUT', PATHS.block(stranger!.userId), ann!)).status).toBe(204);
    expect((await call('PUT', PATHS.block(friend!.userId), ann!)).status).toBe(204);
    // The friend saw Ann online: their view goes blank. The stranger saw nothing: no frame.
    expect(await nextPresence(f, ann!.userId, 2)).toEqual({ type: 'presence', userId: ann!.userId, online: false, lastSeen: null });
    expect((await call('DELETE', PATHS.block(stranger!.userId), ann!)).status).toBe(204);
    await barrier(a, stranger!, s, 'after-block');
    expect(seen(s, ann!.userId)).toHaveLength(1);
    for (const x of [a, f, s]) x.close();
  });

  it('an open view follows a contact added or removed, both ways, without watching again', async () => {
    const [ann, bob] = await users(2);
    // Bob already has Ann in his contacts (he shares with her); Ann does not have Bob yet.
    await addContact(bob!, ann!);
    const a = await connect(ann!);
    const b = await connect(bob!);
    b.send({ type: 'presence_watch', users: [ann!.userId] });
    a.send({ type: 'presence_watch', users: [bob!.userId] });
    expect(await nextPresence(b, ann!.userId, 1)).toMatchObject({ online: false, lastSeen: null });
    expect(await nextPresence(a, bob!.userId, 1)).toMatchObject({ online: false, lastSeen: null });

    // Ann saves Bob: he may now see her (her side), and she him (she shares back now).
    await addContact(ann!, bob!);
    expect(await nextPresence(b, ann!.userId, 2)).toMatchObject({ online: true });
    expect(await nextPresence(a, bob!.userId, 2)).toMatchObject({ online: true });

    // Ann removes Bob: both views go blank at once.
    expect((await call('DELETE', PATHS.contact(bob!.userId), ann!)).status).toBe(204);
    expect(await nextPresence(b, ann!.userId, 3)).toEqual({ type: 'presence', userId: ann!.userId, online: false, lastSeen: null });
    expect(await nextPresence(a, bob!.userId, 3)).toEqual({ type: 'presence', userId: bob!.userId, online: false, lastSeen: null });
    a.close();
    b.close();
  });
});
