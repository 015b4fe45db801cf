/**
 * What a media message carries besides the upload: a tiny inline preview (JPEG or WebP, at most
 * THUMB_EDGE px on the long side, base64 under MAX_THUMBNAIL_BASE64 characters), the picture's
 * size and a clip's duration. All computed in the browser from the file before it is sent;
 * anything that cannot be read (an image type the browser cannot decode, a video it cannot
 * play) simply leaves the field out.
 */
import { MAX_THUMBNAIL_BASE64 } from '../../../protocol/index.ts';

/** Long side of the inline thumbnail, px. */
export const THUMB_EDGE = 64;
/** Give up on reading a video's metadata or first frame after this long, ms. */
const VIDEO_PROBE_MS = 5_000;

/** Fields for an image or video body, each only when known. */
export interface MediaFacts {
  thumbnail?: string;
  width?: number;
  height?: number;
  durationMs?: number;
}

/** Thumbnail, width and height of an image file (empty when the browser cannot decode it). */
export async function imageFacts(file: Blob): Promise<MediaFacts> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return {};
  }
  try {
    const facts: MediaFacts = { width: clampDimension(bitmap.width), height: clampDimension(bitmap.height) };
    const thumbnail = encodeThumbnail(bitmap, bitmap.width, bitmap.height);
    if (thumbnail !== undefined) facts.thumbnail = thumbnail;
    return facts;
  } finally {
    bitmap.close();
  }
}

/**
 * Size, duration and (when a frame can be drawn) a thumbnail of a video file. Needs the page's
 * `media-src` to allow `blob:`; without it the probe fails and nothing is returned.
 */
export async function videoFacts(file: Blob): Promise<MediaFacts> {
  const url = URL.createObjectURL(file);
  const video = document.createElement('video');
  video.muted = true;
  video.preload = 'auto';
  video.playsInline = true;
  try {
    await mediaEvent(video, 'loadeddata', url);
    const facts: MediaFacts = {};
    if (Number.isFinite(video.duration)) facts.durationMs = Math.round(video.duration * 1_000);
    if (video.videoWidth > 0 && video.videoHeight > 0) {
      facts.width = clampDimension(video.videoWidth);
      facts.height = clampDimension(video.videoHeight);
      const thumbnail = encodeThumbnail(video, video.videoWidth, video.videoHeight);
      if (thumbnail !== undefined) facts.thumbnail = thumbnail;
    }
    return facts;
  } catch {
    return {};
  } finally {
    video.removeAttribute('src');
    video.load();
    URL.revokeObjectURL(url);
  }
}

/** Resolves on `event` once `src` is set, rejects on an error or after VIDEO_PROBE_MS. */
function mediaEvent(el: HTMLMediaElement, event: 'loadeddata' | 'loadedmetadata', src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = window.setTimeout(() => done(new Error('timeout')), VIDEO_PROBE_MS);
    const done = (error?: Error): void => {
      window.clearTimeout(timer);
      el.removeEventListener(event, onEvent);
      el.removeEventListener('error', onError);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onEvent = (): void => done();
    const onError = (): void => done(new Error('media error'));
    el.addEventListener(event, onEvent);
    el.addEventListener('error', onError);
    el.src = src;
  });
}

/**
 * Draw `source` at most THUMB_EDGE px on its long side and encode it as WebP (JPEG where the
 * browser cannot write WebP), lowering the quality until the base64 fits MAX_THUMBNAIL_BASE64.
 */
export function encodeThumbnail(source: CanvasImageSource, width: number, height: number): string | undefined {
  if (width <= 0 || height <= 0) return undefined;
  const scale = Math.min(1, THUMB_EDGE / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, Math.round(width * scale));
  canvas.height = Math.max(1, Math.round(height * scale));
  const context = canvas.getContext('2d');
  if (context === null) return undefined;
  // Transparent images get a white background (JPEG has no alpha).
  context.fillStyle = '#fff';
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  for (const quality of [0.7, 0.5, 0.3]) {
    for (const type of ['image/webp', 'image/jpeg']) {
      const url = canvas.toDataURL(type, quality);
      // A browser that cannot write `type` answers PNG instead.
      if (!url.startsWith(`data:${type};base64,`)) continue;
      const base64 = url.slice(url.indexOf(',') + 1);
      if (base64.length > 0 && base64.length <= MAX_THUMBNAIL_BASE64) return base64;
    }
  }
  return undefined;
}

/** The type of an inline thumbnail from its first bytes (WebP or JPEG), for a data: URL. */
export function thumbnailUrl(base64: string): string {
  const type = base64.startsWith('UklGR') ? 'image/webp' : 'image/jpeg';
  return `data:${type};base64,${base64}`;
}

/** Dimensions the protocol accepts (1 … 20 000). */
function clampDimension(value: number): number {
  return Math.min(20_000, Math.max(1, Math.round(value)));
}
