/**
 * "Change photo" / "Remove photo" for a profile photo or a group picture: the picked image is
 * cropped to a centred square, scaled to at most PHOTO_EDGE px and encoded as JPEG in the
 * browser (any image the browser can decode works, and the upload stays small), uploaded as
 * an `avatar`, then saved by the caller (PATCH /v1/me {photo}, or the group update).
 */
import { MEDIA_LIMITS } from '../../../protocol/index.ts';
import { errorLine, h, statusLine } from '../dom.ts';
import { friendlyError } from '../errors.ts';

/** Side of the square photo uploaded, px. */
export const PHOTO_EDGE = 640;

export interface PhotoPickerOptions {
  /** For data-testid: `${testId}-change`, `${testId}-remove`, … */
  testId: string;
  /** "photo" or "picture", in the buttons' labels. */
  noun: string;
  /** The current media id (null: none). */
  current(): string | null;
  /** Upload an `avatar` (image/jpeg); resolves with its media id. */
  upload(file: Blob, onProgress: (fraction: number) => void): Promise<string>;
  /** Save the new id (null removes it). */
  save(mediaId: string | null): Promise<void>;
}

/** The buttons (and their status line); call `refresh()` after the current photo changed. */
export function photoPicker(options: PhotoPickerOptions): { el: HTMLElement; refresh(): void } {
  const input = h('input', { type: 'file', accept: 'image/*', hidden: true, tabindex: -1, 'aria-hidden': 'true', 'data-testid': `${options.testId}-input` });
  const change = h('button', { type: 'button', class: 'secondary small', 'data-testid': `${options.testId}-change` }, `Change ${options.noun}`);
  const remove = h('button', { type: 'button', class: 'secondary small', 'data-testid': `${options.testId}-remove` }, `Remove ${options.noun}`);
  const status = statusLine(`${options.testId}-status`);
  const error = errorLine(`${options.testId}-error`);
  const refresh = (): void => {
    remove.hidden = options.current() === null;
  };
  const run = async (work: () => Promise<void>, doneText: string): Promise<void> => {
    error.clear();
    change.disabled = true;
    remove.disabled = true;
    try {
      await work();
      status.show(doneText);
    } catch (e) {
      status.show('');
      error.show(e instanceof PhotoError ? e.message : friendlyError(e));
    } finally {
      change.disabled = false;
      remove.disabled = false;
      refresh();
    }
  };
  change.addEventListener('click', () => input.click());
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file === undefined) return;
    void run(async () => {
      status.show('Preparing…');
      const square = await squarePhoto(file);
      const id = await options.upload(square, (fraction) => status.show(`Uploading… ${Math.round(fraction * 100)}%`));
      status.show('Saving…');
      await options.save(id);
    }, `${capitalized(options.noun)} changed`);
  });
  remove.addEventListener('click', () => void run(() => options.save(null), `${capitalized(options.noun)} removed`));
  refresh();
  return { el: h('div', { class: 'photo-picker' }, h('div', { class: 'inline-actions' }, change, remove, input), status.el, error.el), refresh };
}

/** A problem with the picked file, said to the user as it is. */
class PhotoError extends Error {}

/** The picked image as a centred square JPEG of at most PHOTO_EDGE px. */
export async function squarePhoto(file: Blob): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new PhotoError('That file is not a picture this browser can read.');
  }
  try {
    const side = Math.min(bitmap.width, bitmap.height);
    const edge = Math.min(PHOTO_EDGE, side);
    const canvas = document.createElement('canvas');
    canvas.width = edge;
    canvas.height = edge;
    const context = canvas.getContext('2d');
    if (context === null) throw new PhotoError('This browser cannot prepare the picture.');
    context.fillStyle = '#fff';
    context.fillRect(0, 0, edge, edge);
    context.drawImage(bitmap, (bitmap.width - side) / 2, (bitmap.height - side) / 2, side, side, 0, 0, edge, edge);
    const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.86));
    if (blob === null) throw new PhotoError('This browser cannot prepare the picture.');
    if (blob.size > MEDIA_LIMITS.avatar.maxBytes) throw new PhotoError('That picture is too large.');
    return blob;
  } finally {
    bitmap.close();
  }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
