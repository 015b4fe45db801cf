/**
 * Sending a photo, video, voice note or file from a chat: the bubble shows at once (pending, with
 * the picture from the local file and the upload's progress), the SDK uploads and then sends the
 * message through its outbox. While it uploads the bubble can cancel it (the bubble goes); a
 * failed upload leaves the bubble with Retry, which sends the same file again as a new message in
 * its place.
 */
import { chatKey, type Chat, type ChatStore } from '../chat-store.ts';
import { draftBody, isCancelled, type MediaAdapter, type MediaDraft } from './sdk.ts';
import type { UploadTracker } from './uploads.ts';

export interface MediaSenderOptions {
  adapter: MediaAdapter;
  store: ChatStore;
  uploads: UploadTracker;
  describeError(error: unknown): string;
}

/** A function that sends `draft` to `chat`; it throws (a MessengerError) for input the SDK refuses. */
export function mediaSender(options: MediaSenderOptions): (chat: Pick<Chat, 'kind' | 'id'>, draft: MediaDraft) => void {
  const { adapter, store, uploads } = options;
  const send = (chat: Pick<Chat, 'kind' | 'id'>, draft: MediaDraft): void => {
    const key = chatKey(chat.kind, chat.id);
    let clientId: string | null = null;
    const sending = adapter.send(chat, draft, (fraction) => {
      if (clientId !== null) uploads.progress(clientId, fraction);
    });
    clientId = sending.clientId;
    uploads.start(clientId, draft.kind === 'image' ? URL.createObjectURL(draft.file) : null, sending.cancel);
    const body = draftBody(draft, '');
    const createdAt = Date.now();
    store.addPending(chat.kind === 'direct' ? { clientId, to: chat.id, body, createdAt } : { clientId, group: chat.id, body, createdAt });
    const id = clientId;
    sending.uploaded.then(
      (sent) => {
        store.setBody(key, id, sent);
        uploads.done(id);
      },
      (error: unknown) => {
        if (isCancelled(error)) {
          store.removePending(key, id);
          uploads.forget(id);
          return;
        }
        const again = (): void => {
          store.removePending(key, id);
          uploads.forget(id);
          send(chat, draft);
        };
        uploads.failed(id, `Not sent: ${options.describeError(error)}`, sending.retry ?? again);
      },
    );
  };
  return send;
}
