/**
 * `chat --json`: the conversation's newest page as one `{"type":"history"}` line, then its live
 * events as JSON lines (the same shapes as `listen --json`). Lines read from stdin are sent.
 */
import type { Output } from '../output.ts';
import type { StreamEvent } from '../stream.ts';
import type { ChatHistory, ChatPresenter, ChatTarget } from './controller.ts';

export class JsonChatPresenter implements ChatPresenter {
  private readonly out: Output;
  private readonly target: ChatTarget;

  constructor(out: Output, target: ChatTarget) {
    this.out = out;
    this.target = target;
  }

  async history(history: ChatHistory): Promise<void> {
    if (history.kind === 'direct' && this.target.kind === 'direct') {
      this.out.jsonLine({ type: 'history', peer: this.target.peer, messages: history.page.messages, nextBefore: history.page.nextBefore });
    } else if (history.kind === 'group' && this.target.kind === 'group') {
      const { entries, nextBefore, nextBeforeGseq } = history.page;
      this.out.jsonLine({ type: 'history', group: this.target.group, entries, nextBefore, nextBeforeGseq: nextBeforeGseq ?? null });
    }
  }

  async event(event: StreamEvent): Promise<void> {
    this.out.jsonLine(event);
  }

  async elsewhere(): Promise<void> {
    // Only this conversation's events.
  }

  sending(): void {
    // The `sent` / `group_sent` (or `failed`) line follows.
  }

  notice(text: string): void {
    this.out.note(text);
  }
}
