/**
 * The chat markers a `MessengerClient` sends: read markers (1:1 and group) and "marked unread"
 * flags. They are state, not events: offline, only the latest per chat is kept, and it goes out
 * after the next hello.
 */
import { ChatRefSchema, GroupIdSchema, GroupSeqSchema, SeqSchema, UserIdSchema } from '../protocol/index.ts';
import type { ChatRef, ClientFrame } from '../protocol/index.ts';
import { MessengerError } from './transport.ts';

function assertSeq(upTo: number): void {
  if (!SeqSchema.safeParse(upTo).success) {
    throw new MessengerError('validation_failed', `upTo ${upTo} is not a mailbox seq`);
  }
}

function assertGroup(groupId: string): void {
  if (!GroupIdSchema.safeParse(groupId).success) {
    throw new MessengerError('validation_failed', `Group ${JSON.stringify(groupId)} is not a group id`);
  }
}

/** A chat's map key: `d:<peer>` or `g:<group>`. */
function chatKey(chat: ChatRef): string {
  return chat.kind === 'direct' ? `d:${chat.peer}` : `g:${chat.group}`;
}

/** What the markers need of the client: a way to send a frame now (false when not connected). */
export interface ChatMarkersHost {
  send(frame: ClientFrame): boolean;
  /** A frame the server counts as user activity (a read marker) went out. */
  onActivity(): void;
}

/**
 * Read and unread markers of one client, kept while offline.
 *
 * @example
 * const markers = new ChatMarkers({ send: (f) => connection.send(f), onActivity: () => undefined });
 * markers.markRead(peerId, 42);            // sent now, or after the next hello
 * markers.markUnread({ kind: 'group', group: groupId }, true);
 * connection.on('hello', () => markers.onHello());
 */
export class ChatMarkers {
  private readonly host: ChatMarkersHost;
  /** Read markers that could not be sent yet (offline): highest upTo per peer. */
  private readonly pendingReads = new Map<string, number>();
  /** Group read markers that could not be sent yet (offline): highest upTo per group. */
  private readonly pendingGroupReads = new Map<string, number>();
  /** Large-group read markers (by gseq) that could not be sent yet: highest gseq per group. */
  private readonly pendingLogReads = new Map<string, number>();
  /** Unread flags that could not be sent yet (offline): the latest per chat. */
  private readonly pendingUnread = new Map<string, { chat: ChatRef; unread: boolean }>();

  constructor(host: ChatMarkersHost) {
    this.host = host;
  }

  /** See `MessengerClient.markRead`. */
  markRead(peer: string, upTo: number): void {
    if (!UserIdSchema.safeParse(peer).success) {
      throw new MessengerError('validation_failed', `Peer ${JSON.stringify(peer)} is not a user id`);
    }
    assertSeq(upTo);
    // Reading clears a pending "marked unread" on the server too; don't set it again afterwards.
    this.pendingUnread.delete(chatKey({ kind: 'direct', peer }));
    if (this.host.send({ type: 'read', peer, upTo })) {
      this.pendingReads.delete(peer);
      this.host.onActivity();
      return;
    }
    this.pendingReads.set(peer, Math.max(this.pendingReads.get(peer) ?? 0, upTo));
  }

  /** See `MessengerClient.markGroupLogRead`. */
  markGroupLogRead(groupId: string, gseq: number): void {
    assertGroup(groupId);
    if (!GroupSeqSchema.safeParse(gseq).success) throw new MessengerError('validation_failed', `gseq ${gseq} is not a group seq`);
    this.pendingUnread.delete(chatKey({ kind: 'group', group: groupId }));
    if (this.host.send({ type: 'group_read', group: groupId, gseq })) {
      this.pendingLogReads.delete(groupId);
      this.host.onActivity();
      return;
    }
    this.pendingLogReads.set(groupId, Math.max(this.pendingLogReads.get(groupId) ?? 0, gseq));
  }

  /** See `MessengerClient.markGroupRead`. */
  markGroupRead(groupId: string, upTo: number): void {
    assertGroup(groupId);
    assertSeq(upTo);
    this.pendingUnread.delete(chatKey({ kind: 'group', group: groupId }));
    if (this.host.send({ type: 'group_read', group: groupId, upTo })) {
      this.pendingGroupReads.delete(groupId);
      this.host.onActivity();
      return;
    }
    this.pendingGroupReads.set(groupId, Math.max(this.pendingGroupReads.get(groupId) ?? 0, upTo));
  }

  /** See `MessengerClient.markUnread`. */
  markUnread(chat: ChatRef, unread: boolean): boolean {
    const parsed = ChatRefSchema.safeParse(chat);
    if (!parsed.success || typeof unread !== 'boolean') {
      throw new MessengerError('validation_failed', `Invalid chat ${JSON.stringify(chat)} or unread flag`);
    }
    const key = chatKey(parsed.data);
    if (this.host.send({ type: 'mark_unread', chat: parsed.data, unread })) {
      this.pendingUnread.delete(key);
      return true;
    }
    // The newest wish wins; it goes out after the read markers kept with it (see onHello).
    this.pendingUnread.delete(key);
    this.pendingUnread.set(key, { chat: parsed.data, unread });
    return false;
  }

  /** A new connection said hello: send what was kept, read markers first, then unread flags made after them. */
  onHello(): void {
    for (const [peer, upTo] of [...this.pendingReads]) this.markRead(peer, upTo);
    for (const [group, upTo] of [...this.pendingGroupReads]) this.markGroupRead(group, upTo);
    for (const [group, gseq] of [...this.pendingLogReads]) this.markGroupLogRead(group, gseq);
    for (const { chat, unread } of [...this.pendingUnread.values()]) this.markUnread(chat, unread);
  }
}
