/**
 * Getting files into a chat: the composer's attach button (a file picker), dropping files on the
 * conversation and pasting an image. Each file gets a preview sheet first (a photo, a video's
 * first frame, or a card with the file's name and size) with a caption field and Send / Cancel;
 * a file that is too large or of a refused type is turned down before anything is uploaded.
 */
import { MAX_CAPTION_LENGTH } from '../../../protocol/index.ts';
import { errorLine, h, openDialog } from '../dom.ts';
import { formatBytes, formatDuration } from '../format.ts';
import { chooseKind, type AttachKind } from './kinds.ts';
import type { MediaDraft } from './sdk.ts';
import { imageFacts, thumbnailUrl, videoFacts, type MediaFacts } from './thumbnail.ts';

export interface AttachOptions {
  /** Send the file (its upload and message go through the SDK). */
  send(draft: MediaDraft): void;
  /** Show why a file cannot be sent (under the composer). */
  refuse(text: string): void;
}

const TITLES: Record<AttachKind, string> = { image: 'Send photo', video: 'Send video', voice: 'Send voice message', document: 'Send file' };

/**
 * The attach button (it opens the picker) and its hidden file input (both go into the composer).
 */
export function attachButton(options: AttachOptions, content: Node): { button: HTMLButtonElement; input: HTMLInputElement } {
  const input = h('input', { type: 'file', multiple: true, hidden: true, tabindex: -1, 'aria-hidden': 'true', 'data-testid': 'attach-input' });
  const button = h('button', { type: 'button', class: 'icon-button attach-button', 'aria-label': 'Attach a file', title: 'Attach', 'data-testid': 'attach-button' }, content);
  button.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const files = [...(input.files ?? [])];
    input.value = '';
    void offerFiles(files, options);
  });
  return { button, input };
}

/**
 * Files dropped on `zone` and images pasted into `pasteTarget` are offered like picked ones.
 * While files are dragged over the zone it carries `data-dropping`. Returns a function that stops.
 */
export function acceptDropAndPaste(zone: HTMLElement, pasteTarget: HTMLElement, options: AttachOptions, enabled: () => boolean): () => void {
  const hasFiles = (event: DragEvent): boolean => event.dataTransfer?.types.includes('Files') === true;
  let depth = 0;
  const onEnter = (event: DragEvent): void => {
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    depth += 1;
    zone.dataset.dropping = 'true';
  };
  const onOver = (event: DragEvent): void => {
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    if (event.dataTransfer !== null) event.dataTransfer.dropEffect = 'copy';
  };
  const onLeave = (): void => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) delete zone.dataset.dropping;
  };
  const onDrop = (event: DragEvent): void => {
    depth = 0;
    delete zone.dataset.dropping;
    if (!hasFiles(event) || !enabled()) return;
    event.preventDefault();
    void offerFiles([...(event.dataTransfer?.files ?? [])], options);
  };
  const onPaste = (event: ClipboardEvent): void => {
    if (!enabled()) return;
    const files = [...(event.clipboardData?.files ?? [])].filter((file) => file.type.startsWith('image/'));
    if (files.length === 0) return; // Text is pasted as usual.
    event.preventDefault();
    void offerFiles(files, options);
  };
  zone.addEventListener('dragenter', onEnter);
  zone.addEventListener('dragover', onOver);
  zone.addEventListener('dragleave', onLeave);
  zone.addEventListener('drop', onDrop);
  pasteTarget.addEventListener('paste', onPaste);
  return () => {
    zone.removeEventListener('dragenter', onEnter);
    zone.removeEventListener('dragover', onOver);
    zone.removeEventListener('dragleave', onLeave);
    zone.removeEventListener('drop', onDrop);
    pasteTarget.removeEventListener('paste', onPaste);
  };
}

/** One preview sheet after the other, for each file. */
async function offerFiles(files: readonly File[], options: AttachOptions): Promise<void> {
  for (const file of files) {
    const choice = chooseKind(file);
    if (!choice.ok) {
      options.refuse(`${file.name}: ${choice.reason}`);
      continue;
    }
    await previewSheet(file, choice.kind, choice.mime, options);
  }
}

/** The sheet before sending: preview, caption, Send / Cancel. Resolves when it closes. */
function previewSheet(file: File, kind: AttachKind, mime: string, options: AttachOptions): Promise<void> {
  const facts: Promise<MediaFacts> = kind === 'image' ? imageFacts(file) : kind === 'video' ? videoFacts(file) : Promise.resolve({});
  const objectUrl = kind === 'image' ? URL.createObjectURL(file) : null;
  const caption = h('textarea', {
    class: 'preview-caption',
    rows: 1,
    maxlength: MAX_CAPTION_LENGTH,
    dir: 'auto',
    placeholder: 'Add a caption',
    'aria-label': 'Caption',
    'data-testid': 'preview-caption',
  });
  const preview = h('div', { class: `preview preview-${kind}`, 'data-testid': 'preview' });
  if (objectUrl !== null) preview.append(h('img', { class: 'preview-image', src: objectUrl, alt: file.name, 'data-testid': 'preview-image' }));
  else preview.append(fileCard(file.name, file.size, kind));
  const error = errorLine('preview-error');
  const sendButton = h('button', { type: 'submit', class: 'primary', 'data-testid': 'preview-send' }, 'Send');
  const cancel = h('button', { type: 'button', class: 'secondary', 'data-testid': 'preview-cancel' }, 'Cancel');
  const form = h('form', { class: 'preview-form' }, preview, caption, error.el, h('div', { class: 'dialog-actions' }, cancel, sendButton));

  if (kind === 'video') {
    void facts.then((known) => {
      if (known.thumbnail === undefined) return;
      const card = preview.firstElementChild;
      const poster = h('img', { class: 'preview-image preview-poster', src: thumbnailUrl(known.thumbnail), alt: '' });
      card?.prepend(poster);
      if (known.durationMs !== undefined) card?.append(h('span', { class: 'media-duration' }, formatDuration(known.durationMs)));
    });
  }

  return new Promise((resolve) => {
    let sending = false;
    const dialog = openDialog({
      title: TITLES[kind],
      testId: 'preview-sheet',
      content: [form],
      onClose: () => {
        if (objectUrl !== null) URL.revokeObjectURL(objectUrl);
        resolve();
      },
    });
    dialog.classList.add('preview-dialog');
    caption.focus();
    cancel.addEventListener('click', () => dialog.close());
    caption.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (sending) return;
      sending = true;
      sendButton.disabled = true;
      void facts.then((known) => {
        const text = caption.value.trim();
        try {
          options.send({
            kind,
            file,
            mime,
            ...known,
            ...(text !== '' ? { caption: text } : {}),
            ...(kind === 'document' ? { fileName: file.name.slice(0, 255) || 'file' } : {}),
          });
          dialog.close();
        } catch (e) {
          sending = false;
          sendButton.disabled = false;
          error.show(e instanceof Error && e.message !== '' ? e.message : 'Could not send this file.');
        }
      });
    });
  });
}

/** A document's (or a video's, before its frame is known) card: icon, name, size. */
function fileCard(name: string, size: number, kind: AttachKind): HTMLElement {
  return h(
    'div',
    { class: 'preview-file', 'data-testid': 'preview-file' },
    h('span', { class: 'media-doc-icon', 'aria-hidden': 'true' }, kind === 'video' ? '🎥' : '📄'),
    h('span', { class: 'media-doc-main' }, h('bdi', { class: 'media-doc-name' }, name), h('span', { class: 'media-doc-size' }, formatBytes(size))),
  );
}
