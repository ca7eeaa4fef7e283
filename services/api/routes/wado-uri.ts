/**
 * WADO-URI (PS3.18 §9): GET ?requestType=WADO&studyUID=&seriesUID=&objectUID=[&contentType=]
 * for older EPR integrations. application/dicom returns the object (transferSyntax honoured as in
 * WADO-RS); image/jpeg (the default for images) and image/png return a rendering, cached as
 * WADO-RS renderings are (rendering.ts).
 */
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { STANDARD_RENDITIONS } from '../../core/dicom/renditions.js';
import type { InstanceIndex } from '../../core/index/port.js';
import type { ObjectStore } from '../../core/storage/object-store.js';
import { allow } from '../middleware/auth.js';
import { sendRendering } from './rendering.js';
import { deliverableSyntax, findTarget, parseTarget, sendInstance } from './retrieve-common.js';

export function wadoUriRoutes(deps: { index: InstanceIndex; store: ObjectStore }): Router {
  const router = Router();
  router.get('/wado', allow('read'), async (req: Request, res: Response) => {
    const q = (name: string): string | undefined => {
      const v = req.query[name];
      if (v !== undefined && typeof v !== 'string') throw new LucidaError('BAD_REQUEST', `${name} may be given once`);
      return v;
    };
    if (q('requestType') !== 'WADO') throw new LucidaError('BAD_REQUEST', 'requestType must be WADO');
    const uids = { study: q('studyUID'), series: q('seriesUID'), instance: q('objectUID') };
    for (const [name, v] of [['studyUID', uids.study], ['seriesUID', uids.series], ['objectUID', uids.instance]]) {
      if (!v) throw new LucidaError('BAD_REQUEST', `${name} is required`);
    }
    const [inst] = await findTarget(deps.index, req, parseTarget(uids));
    const contentType = (q('contentType') ?? (inst.hasPixelData ? 'image/jpeg' : 'application/dicom')).split(',')[0].trim().toLowerCase();

    if (contentType === 'application/dicom') {
      const ts = deliverableSyntax(inst.transferSyntaxUID, q('transferSyntax') ?? '*', inst.decodable);
      if (!ts) throw new LucidaError('NOT_ACCEPTABLE', 'the object cannot be sent in that transfer syntax');
      res.status(200).type('application/dicom');
      await sendInstance(deps.store, inst, ts, res);
      return;
    }
    if (contentType !== 'image/jpeg' && contentType !== 'image/png') {
      throw new LucidaError('NOT_ACCEPTABLE', 'contentType must be application/dicom, image/jpeg or image/png');
    }
    const size = (name: string) => {
      const v = q(name);
      if (v === undefined) return undefined;
      if (!/^\d{1,5}$/.test(v) || Number(v) < 1) throw new LucidaError('BAD_REQUEST', `${name} must be a positive integer`);
      return Number(v);
    };
    const rows = size('rows');
    const columns = size('columns');
    const frame = size('frameNumber') ?? 1;
    const quality = size('imageQuality') ?? STANDARD_RENDITIONS.rendered.quality;
    const viewport = rows || columns ? { width: columns ?? 65535, height: rows ?? 65535 } : undefined;
    await sendRendering(deps, inst, frame, { format: contentType === 'image/png' ? 'png' : 'jpeg', quality, viewport }, res);
  });
  return router;
}
