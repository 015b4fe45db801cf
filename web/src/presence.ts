/**
 * PRESENCE HOOK ("online" / "last seen today at 14:05" under a 1:1 chat's name).
 *
 * The server side of presence is not built yet. The conversation header asks a PresenceSource
 * for its subtitle (views/conversation.ts, `subtitle()`); a typing indicator takes precedence.
 * To wire real presence: implement this interface on top of the SDK's presence events/API and
 * pass it to `startApp` in main.ts instead of `noPresence`. Nothing else needs to change.
 */
export interface PresenceSource {
  /** The subtitle for a 1:1 chat with `userId`, e.g. "online"; '' when unknown. */
  describe(userId: string): string;
  /** Call `onChange` whenever `describe(userId)` may have changed; returns an unsubscribe function. */
  subscribe(userId: string, onChange: () => void): () => void;
}

/** No presence yet: the subtitle stays empty. */
export const noPresence: PresenceSource = {
  describe: () => '',
  subscribe: () => () => undefined,
};
