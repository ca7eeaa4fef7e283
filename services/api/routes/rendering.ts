/**
 * Consumer-ready JPEG/PNG renderings of an instance's frame, shared by WADO-RS Rendered and Thumbnail
 * (PS3.18 §10.4.1.1.4, §10.4.1.1.6) and WADO-URI (§9). Every rendering is cached in the object store
 * under a key naming its parameters, so the image is decoded once and then served from storage.
 */
import { pipeline } from 'node:stream/promises';
import type { Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { renderFrame } from '../../core/dicom/index.js';
import { STANDARD_RENDITIONS, renditionVariant, type RenditionParams } from '../../core/dicom/renditions.js';
import type { StoredInstance } from '../../core/index/port.js';
import { storedFrameAsRendered } from '../../core/photo/index.js';
import { objectKeys, readObject, type ObjectStore } from '../../core/storage/object-store.js';

/** Sends frame `frame` (1-based) of `inst` rendered with `p`: from the cache, the stored frame, or rendered now and cached. */
export async function sendRendering(deps: { store: ObjectStore }, inst: StoredInstance, frame: number, p: RenditionParams, res: Response): Promise<void> {
  if (!inst.hasPixelData) throw new LucidaError('NOT_ACCEPTABLE', 'this instance has no pixel data to render');
  const key = objectKeys.derivative(inst.sopInstanceUID, renditionVariant(frame, p));
  // Headers only once the image is in hand: an error response must not carry the image's caching.
  const succeed = () => res.status(200).type(p.format === 'png' ? 'image/png' : 'image/jpeg')
    .setHeader('Cache-Control', 'private, max-age=3600');
  const cached = await deps.store.exists(key);
  if (cached) {
    const stream = await deps.store.get(key);
    succeed().setHeader('Content-Length', String(cached.sizeBytes));
    await pipeline(stream, res);
    return;
  }
  // Read once: the same bytes serve the stored-frame check and, when that misses, the rendering.
  const bytes = await readObject(deps.store, inst.objectKey);
  // The default rendering of a camera JPEG is its stored frame (see the derive job): no decode, no
  // copy. Single-frame only: a multi-frame instance is rendered once and cached, not read every time.
  const asStored = isDefaultRendering(frame, p) && (inst.numberOfFrames ?? 1) === 1 ? storedFrameAsRendered(bytes) : undefined;
  if (asStored) {
    succeed().send(asStored);
    return;
  }
  const image = await renderFrame(bytes, frame, p);
  await deps.store.put(key, image);
  succeed().send(image);
}

const isDefaultRendering = (frame: number, p: RenditionParams) => frame === 1 && p.viewport === undefined
  && p.format === STANDARD_RENDITIONS.rendered.format && p.quality === STANDARD_RENDITIONS.rendered.quality;
