/**
 * WADO-RS Retrieve Instances (PS3.18 §10.4.1.1.1): study, series or instance as
 * multipart/related; type="application/dicom", streamed from the object store one instance at
 * a time. `transfer-syntax=*` sends what was stored; the default is Explicit VR Little Endian.
 */
import { Router, type Request, type Response } from 'express';
import type { ObjectStore } from '../../core/storage/object-store.js';
import type { InstanceIndex, StoredInstance } from '../../core/index/port.js';
import { parseAccept, type MediaRange } from '../http/media-type.js';
import { MultipartWriter } from '../multipart/writer.js';
import { allow } from '../middleware/auth.js';
import { multipartType, negotiate } from '../http/negotiate.js';
import { deliverableSyntax, findTarget, instanceIn, parseTarget, sendInstance } from './retrieve-common.js';

interface Choice { multipart: boolean; syntaxes: string[] }

export function retrieveRoutes(deps: { index: InstanceIndex; store: ObjectStore }): Router {
  const router = Router();
  const handler = async (req: Request, res: Response) => {
    const instances = await findTarget(deps.index, req, parseTarget(req.params));
    const single = instances.length === 1 && Boolean(req.params.instance);
    const choice = negotiate(parseAccept(req.get('accept')), (range) => acceptable(range, instances, single), 'DICOM instances');

    if (!choice.multipart) {
      const [inst] = instances;
      res.status(200).type(`application/dicom; transfer-syntax=${choice.syntaxes[0]}`);
      await sendInstance(deps.store, inst, choice.syntaxes[0], res);
      return;
    }
    const writer = new MultipartWriter(res);
    const uniform = new Set(choice.syntaxes).size === 1 ? { 'transfer-syntax': choice.syntaxes[0] } : undefined;
    res.status(200).setHeader('Content-Type', writer.contentTypeHeader('application/dicom', uniform));
    for (let i = 0; i < instances.length; i++) {
      const ts = choice.syntaxes[i];
      let body;
      try {
        body = await instanceIn(deps.store, instances[i], ts);
      } catch (err) {
        // Past the first part the status is sent: the connection is cut (the client sees an
        // incomplete multipart, never a silently shorter study). Damage found by the derive job is
        // refused before this point (406); this is damage found first here.
        if (i > 0) req.log.error({ err, sopInstanceUID: instances[i].sopInstanceUID }, 'retrieve: instance could not be converted mid-response');
        throw err;
      }
      await writer.writePart({ 'Content-Type': `application/dicom; transfer-syntax=${ts}` }, body);
    }
    await writer.end();
    res.end();
  };
  router.get('/studies/:study', allow('read'), handler);
  router.get('/studies/:study/series/:series', allow('read'), handler);
  router.get('/studies/:study/series/:series/instances/:instance', allow('read'), handler);
  return router;
}

function acceptable(range: MediaRange, instances: StoredInstance[], single: boolean): Choice | undefined {
  const partType = multipartType(range, 'application/dicom');
  let multipart: boolean;
  if (partType !== undefined) {
    if (partType !== 'application/dicom') return undefined;
    multipart = true; // also for */*: the PS3.18 default representation
  } else if (range.essence === 'application/dicom' && single) {
    multipart = false;
  } else {
    return undefined;
  }
  const requested = range.params['transfer-syntax'];
  const syntaxes: string[] = [];
  for (const inst of instances) {
    const ts = deliverableSyntax(inst.transferSyntaxUID, requested, inst.decodable);
    if (!ts) return undefined;
    syntaxes.push(ts);
  }
  return { multipart, syntaxes };
}
