/**
 * WADO-RS Rendered and Thumbnail resources (PS3.18 §10.4.1.1.4, §10.4.1.1.6): consumer-ready
 * JPEG/PNG, cached (see rendering.ts).
 */
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { STANDARD_RENDITIONS, type RenditionParams } from '../../core/dicom/renditions.js';
import type { InstanceIndex } from '../../core/index/port.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import { mediaRangeMatches, parseAccept } from '../http/media-type.js';
import { allow } from '../middleware/auth.js';
import { negotiate } from '../http/negotiate.js';
import { sendRendering } from './rendering.js';
import { findTarget, isFrameNumber, parseTarget } from './retrieve-common.js';

export function renderedRoutes(deps: { index: InstanceIndex; store: ObjectStore }): Router {
  const router = Router();

  const rendered = async (req: Request, res: Response) => {
    const [inst] = await findTarget(deps.index, req, parseTarget(req.params));
    const frame = req.params.frame === undefined ? 1 : parseFrameNumber(req.params.frame as string);
    const params = renderParams(req);
    await sendRendering(deps, inst, frame, params, res);
  };
  router.get('/studies/:study/series/:series/instances/:instance/rendered', allow('read'), rendered);
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frame/rendered', allow('read'), rendered);

  const thumbnail = async (req: Request, res: Response) => {
    const instances = await findTarget(deps.index, req, parseTarget(req.params));
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

function pickFormat(req: Request): 'jpeg' | 'png' {
  return negotiate(parseAccept(req.get('accept')), (r) => {
    if (mediaRangeMatches(r, 'image/jpeg')) return 'jpeg' as const;
    if (mediaRangeMatches(r, 'image/png')) return 'png' as const;
    return undefined;
  }, 'rendered images');
}

function parseFrameNumber(raw: string): number {
  if (!isFrameNumber(raw)) throw new LucidaError('BAD_REQUEST', 'frame number must be a positive integer');
  return Number(raw);
}

/**
 * PS3.18 §8.3.5: `quality` and `viewport` (vw,vh: the subset we support). Only their syntax is
 * checked here; renderFrame (the codec) owns the ranges (quality 1..100, viewport >= 1).
 */
function renderParams(req: Request): RenditionParams {
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
