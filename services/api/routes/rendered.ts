/**
 * WADO-RS Rendered and Thumbnail resources (PS3.18 §10.4.1.1.4, §10.4.1.1.6): consumer-ready
 * JPEG/PNG. Every rendering is cached in the object store under a key naming its parameters, so
 * the image is decoded once and then served from storage.
 */
import { pipeline } from 'node:stream/promises';
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { renderFrame } from '../../core/dicom/index.js';
import { storedFrameAsRendered } from '../../core/photo/index.js';
import { STANDARD_RENDITIONS, renditionVariant, type RenditionParams as RenderParams } from '../../core/dicom/renditions.js';
import type { InstanceIndex, StoredInstance } from '../../core/index/port.js';
import { objectKeys, readObject, type ObjectStore } from '../../core/storage/object-store.js';
import { mediaRangeMatches, parseAccept } from '../http/media-type.js';
import { allow } from '../middleware/auth.js';
import { negotiate } from '../http/negotiate.js';
import { resolveTarget } from './retrieve-common.js';


export function renderedRoutes(deps: { index: InstanceIndex; store: ObjectStore }): Router {
  const router = Router();

  const rendered = async (req: Request, res: Response) => {
    const [inst] = await resolveTarget(deps.index, req);
    const frame = req.params.frame === undefined ? 1 : parseFrameNumber(req.params.frame as string);
    const params = renderParams(req);
    await sendRendering(deps, inst, frame, params, res);
  };
  router.get('/studies/:study/series/:series/instances/:instance/rendered', allow('read'), rendered);
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frame/rendered', allow('read'), rendered);

  const thumbnail = async (req: Request, res: Response) => {
    const instances = await resolveTarget(deps.index, req);
    // A study or series is represented by its first image (lowest series, then instance number).
    const inst = instances.find((i) => i.hasPixelData) ?? instances[0];
    const format = pickFormat(req);
    await sendRendering(deps, inst, 1, { ...STANDARD_RENDITIONS.thumbnail, format }, res);
  };
  router.get('/studies/:study/thumbnail', allow('read'), thumbnail);
  router.get('/studies/:study/series/:series/thumbnail', allow('read'), thumbnail);
  router.get('/studies/:study/series/:series/instances/:instance/thumbnail', allow('read'), thumbnail);
  return router;
}

async function sendRendering(deps: { store: ObjectStore }, inst: StoredInstance, frame: number, p: RenderParams, res: Response) {
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

const isDefaultRendering = (frame: number, p: RenderParams) => frame === 1 && p.viewport === undefined
  && p.format === STANDARD_RENDITIONS.rendered.format && p.quality === STANDARD_RENDITIONS.rendered.quality;

function pickFormat(req: Request): 'jpeg' | 'png' {
  return negotiate(parseAccept(req.get('accept')), (r) => {
    if (mediaRangeMatches(r, 'image/jpeg')) return 'jpeg' as const;
    if (mediaRangeMatches(r, 'image/png')) return 'png' as const;
    return undefined;
  }, 'rendered images');
}

function parseFrameNumber(raw: string): number {
  if (!/^[1-9]\d{0,8}$/.test(raw)) throw new LucidaError('BAD_REQUEST', 'frame number must be a positive integer');
  return Number(raw);
}

/**
 * PS3.18 §8.3.5: `quality` and `viewport` (vw,vh: the subset we support). Only their syntax is
 * checked here; renderFrame (the codec) owns the ranges (quality 1..100, viewport >= 1).
 */
function renderParams(req: Request): RenderParams {
  const format = pickFormat(req);
  const q = req.query.quality;
  if (q !== undefined && (typeof q !== 'string' || !/^\d{1,3}$/.test(q))) {
    throw new LucidaError('BAD_REQUEST', 'quality must be an integer from 1 to 100');
  }
  const v = req.query.viewport;
  const m = v === undefined ? undefined : (typeof v === 'string' ? v.match(/^(\d{1,5}),(\d{1,5})$/) : null);
  if (m === null) throw new LucidaError('BAD_REQUEST', 'viewport must be "width,height" in pixels');
  return {
    format,
    quality: q === undefined ? STANDARD_RENDITIONS.rendered.quality : Number(q),
    viewport: m ? { width: Number(m[1]), height: Number(m[2]) } : undefined,
  };
}
