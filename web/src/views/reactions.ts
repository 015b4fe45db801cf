/**
 * Reactions: the chips under a bubble (each emoji with its count; hovering names who reacted;
 * clicking one's own removes it, another's adds the same), and the emoji offered by the message
 * menu (a quick row and a small picker of more).
 */
import type { Reaction } from '../../../protocol/index.ts';
import type { Directory } from '../directory.ts';
import { h } from '../dom.ts';

/** The quick row of the message menu (WhatsApp's). */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

/** The picker behind "+": a small set of common ones. */
export const MORE_REACTIONS = [
  '😀', '😁', '😅', '🤣', '😊', '😇', '🙂', '😉', '😍', '🥰', '😘', '😋', '😎', '🤩', '🥳', '🤔',
  '🤗', '🤭', '😐', '🙄', '😏', '😬', '😴', '🤯', '😱', '😭', '😡', '🤬', '🥺', '😳', '🤝', '👏',
  '🙌', '💪', '👌', '✌️', '🤞', '👀', '👎', '🔥', '✨', '🎉', '💯', '✅', '❌', '💔', '💙', '💚',
] as const;

/** One chip: an emoji, who reacted with it (oldest first), and whether the user is among them. */
interface Group {
  emoji: string;
  by: string[];
  mine: boolean;
}

function grouped(reactions: readonly Reaction[], me: string): Group[] {
  const groups = new Map<string, Group>();
  for (const reaction of reactions) {
    const group = groups.get(reaction.emoji) ?? { emoji: reaction.emoji, by: [], mine: false };
    group.by.push(reaction.by);
    if (reaction.by === me) group.mine = true;
    groups.set(reaction.emoji, group);
  }
  return [...groups.values()];
}

/**
 * Draw the chips of `reactions` into `el` (hidden when there are none). `toggle(emoji)` is
 * called with the chip's emoji, or null for the user's own (remove it).
 */
export function drawReactions(el: HTMLElement, reactions: readonly Reaction[], directory: Directory, toggle: (emoji: string | null) => void): void {
  const key = JSON.stringify(reactions.map((r) => [r.by, r.emoji]));
  if (el.dataset.shown === key) return;
  el.dataset.shown = key;
  el.hidden = reactions.length === 0;
  const me = directory.me;
  el.replaceChildren(
    ...grouped(reactions, me).map((group) => {
      const names = group.by.map((id) => (id === me ? 'You' : directory.userName(id)));
      const who = names.join(', ');
      const label = `${group.emoji} ${group.by.length}: ${who}. ${group.mine ? 'Click to remove yours' : 'Click to react the same'}`;
      return h(
        'button',
        {
          type: 'button',
          class: group.mine ? 'reaction mine' : 'reaction',
          'data-testid': 'reaction',
          'data-emoji': group.emoji,
          'aria-pressed': group.mine ? 'true' : 'false',
          'aria-label': label,
          title: `${who}${group.mine ? ' (click to remove yours)' : ''}`,
          on: {
            click: (event) => {
              event.stopPropagation();
              toggle(group.mine ? null : group.emoji);
            },
          },
        },
        h('span', { class: 'reaction-emoji', 'aria-hidden': 'true' }, group.emoji),
        group.by.length > 1 ? h('span', { class: 'reaction-count', 'aria-hidden': 'true', 'data-testid': 'reaction-count' }, String(group.by.length)) : null,
      );
    }),
  );
}

/** The user's current reaction on a message, if any. */
export function myReaction(reactions: readonly Reaction[], me: string): string | null {
  return reactions.find((r) => r.by === me)?.emoji ?? null;
}
