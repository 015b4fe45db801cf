/**
 * The photo viewer: the full picture over everything, in a modal dialog (openDialog: focus moves
 * into it and back to the photo when it closes; Escape, the Close button or a click beside the
 * picture close it).
 */
import { h, openDialog } from '../dom.ts';

/** Show `src` (already loaded in the bubble, so it comes from the cache) large. */
export function openViewer(src: string, alt: string): HTMLDialogElement {
  const image = h('img', { class: 'viewer-image', src, alt, 'data-testid': 'viewer-image' });
  const dialog = openDialog({ title: alt === '' ? 'Photo' : alt, testId: 'media-viewer', content: [image] });
  dialog.classList.add('viewer');
  // A click on the backdrop (the dialog itself, outside its content) closes it.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
  return dialog;
}
