/**
 * The pure rules behind presence and push: who sees what (privacy, reciprocity, blocking),
 * quiet-hour windows in the user's time zone, and what a push shows.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PRIVACY, type PrivacySettings } from '../../protocol/index.ts';
import { inQuietHours, localMinutes, quietEnd } from '../../durable-objects/mailbox/notifications.ts';
import { sharesLastSeen, visiblePresence } from '../../durable-objects/mailbox/presence.ts';
import { renderNotification } from '../../worker/push/render.ts';
import type { PushJob } from '../../durable-objects/mailbox/push-job.ts';

const ONLINE = { online: true, lastSeen: 1_000 };
const open = { viewerShares: true, viewerBlocks: false };
const contact = { isContact: true, ownerBlocks: false };
const stranger = { isContact: false, ownerBlocks: false };

describe('visiblePresence', () => {
  const privacy = (lastSeen: PrivacySettings['lastSeen'], online: PrivacySettings['online'] = 'same_as_last_seen'): PrivacySettings => ({
    ...DEFAULT_PRIVACY,
    lastSeen,
    online,
  });

  it('follows the owner\'s setting and the contact relation', () => {
    expect(visiblePresence(ONLINE, privacy('everyone'), stranger, open)).toEqual(ONLINE);
    expect(visiblePresence(ONLINE, privacy('contacts'), contact, open)).toEqual(ONLINE);
    expect(visiblePresence(ONLINE, privacy('contacts'), stranger, open)).toEqual({ online: false, lastSeen: null });
    expect(visiblePresence(ONLINE, privacy('nobody'), contact, open)).toEqual({ online: false, lastSeen: null });
    expect(visiblePresence(ONLINE, privacy('nobody', 'everyone'), stranger, open)).toEqual({ online: true, lastSeen: null });
  });

  it('is reciprocal: a viewer who does not share sees no last seen', () => {
    const hiding = { viewerShares: false, viewerBlocks: false };
    expect(visiblePresence(ONLINE, privacy('everyone'), contact, hiding)).toEqual({ online: false, lastSeen: null });
    expect(visiblePresence(ONLINE, privacy('everyone', 'everyone'), contact, hiding)).toEqual({ online: true, lastSeen: null });
  });

  it('hides everything when either side blocked the other', () => {
    const all = privacy('everyone', 'everyone');
    expect(visiblePresence(ONLINE, all, { isContact: true, ownerBlocks: true }, open)).toEqual({ online: false, lastSeen: null });
    expect(visiblePresence(ONLINE, all, contact, { viewerShares: true, viewerBlocks: true })).toEqual({ online: false, lastSeen: null });
  });

  it('sharesLastSeen', () => {
    expect([sharesLastSeen('everyone', false), sharesLastSeen('contacts', true), sharesLastSeen('contacts', false), sharesLastSeen('nobody', true)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('quiet hours', () => {
  // 2026-11-21 23:30 UTC = 00:30 in Berlin (UTC+1 in November).
  const at = Date.UTC(2026, 10, 21, 23, 30);

  it('reads the local clock of the user\'s zone', () => {
    expect(localMinutes('UTC', at)).toBe(23 * 60 + 30);
    expect(localMinutes('Europe/Berlin', at)).toBe(30);
  });

  it('handles windows that wrap midnight, and same-day windows', () => {
    expect(inQuietHours({ start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' }, at)).toBe(true);
    expect(inQuietHours({ start: '22:00', end: '07:00', timeZone: 'America/New_York' }, at)).toBe(false); // 18:30 there
    expect(inQuietHours({ start: '13:00', end: '19:00', timeZone: 'America/New_York' }, at)).toBe(true);
    expect(inQuietHours({ start: '08:00', end: '08:00', timeZone: 'UTC' }, at)).toBe(false);
    expect(inQuietHours(null, at)).toBe(false);
  });

  it('ends at the next local end time', () => {
    expect(quietEnd({ start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' }, at)).toBe(Date.UTC(2026, 10, 22, 6, 0));
    expect(quietEnd({ start: '23:00', end: '23:45', timeZone: 'UTC' }, at)).toBe(Date.UTC(2026, 10, 21, 23, 45));
  });
});

describe('renderNotification', () => {
  const base: PushJob = {
    userId: '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    kind: 'message',
    conversation: { kind: 'direct', id: '01ARZ3NDEKTSV4RRFFQ69G5FAW' },
    messageId: '01ARZ3NDEKTSV4RRFFQ69G5FAX',
    count: 1,
    chats: 1,
    from: '01ARZ3NDEKTSV4RRFFQ69G5FAW',
    preview: null,
    silent: false,
    enqueuedAt: 0,
  };
  const names = { sender: 'Ann', group: 'Climbing' };

  it('is content-free without previews, naming neither sender nor text', () => {
    expect(renderNotification(base, names)).toMatchObject({ title: 'New message', body: 'You have a new message', collapseKey: `direct:${base.from}` });
    expect(renderNotification({ ...base, count: 3 }, names).body).toBe('You have 3 new messages');
  });

  it('with previews shows sender (and group) and the snippet', () => {
    expect(renderNotification({ ...base, preview: 'hi' }, names)).toMatchObject({ title: 'Ann', body: 'hi' });
    expect(renderNotification({ ...base, preview: 'hi', count: 2 }, names).body).toBe('hi (+1 more)');
    const group = { ...base, conversation: { kind: 'group' as const, id: base.from! }, preview: 'hi' };
    expect(renderNotification(group, names)).toMatchObject({ title: 'Climbing', body: 'Ann: hi' });
  });

  it('summarises', () => {
    const summary = { ...base, kind: 'summary' as const, conversation: null, messageId: null, from: null, count: 5, chats: 2, silent: true };
    expect(renderNotification(summary, names)).toMatchObject({ title: 'New messages', body: '5 new messages in 2 chats', collapseKey: 'summary', silent: true });
  });
});
