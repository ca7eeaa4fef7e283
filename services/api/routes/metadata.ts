/**
 * WADO-RS Retrieve Metadata (PS3.18 §10.4.1.1.2) and Retrieve Bulkdata (§10.4.1.1.5).
 * Metadata comes from the index (no object is read); bulk values are BulkDataURIs under the
 * instance's /bulkdata/ path, made absolute here from the relative element paths stored at ingest.
 */
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { extractBulkData, TS } from '../../core/dicom/index.js';
import type { DicomJson } from '../../core/dicom/json.types.js';
import type { InstanceIndex } from '../../core/index/port.js';
import { readObject, type ObjectStore } from '../../core/storage/object-store.js';
import { parseAccept, type MediaRange } from '../http/media-type.js';
import { MultipartWriter } from '../multipart/writer.js';
import { allow } from '../middleware/auth.js';
import type { PublicUrls } from '../urls.js';
import { multipartType, negotiate, negotiateDicomJson } from '../http/negotiate.js';
import { findTarget, parseTarget } from './retrieve-common.js';

export function metadataRoutes(deps: { index: InstanceIndex; store: ObjectStore; urls: PublicUrls }): Router {
  const router = Router();
  const metadata = async (req: Request, res: Response) => {
    const instances = await findTarget(deps.index, req, parseTarget(req.params), { withMetadata: true });
    res.status(200).type(negotiateDicomJson(req, 'metadata'));
    // Written instance by instance: a large study never becomes one big string.
    res.write('[');
    instances.forEach((inst, i) => {
      const base = `${deps.urls.instance(inst.studyInstanceUID, inst.seriesInstanceUID, inst.sopInstanceUID)}/bulkdata/`;
      res.write((i ? ',' : '') + JSON.stringify(absoluteBulkDataUris(inst.metadata ?? {}, base)));
    });
    res.end(']');
  };
  router.get('/studies/:study/metadata', allow('read'), metadata);
  router.get('/studies/:study/series/:series/metadata', allow('read'), metadata);
  router.get('/studies/:study/series/:series/instances/:instance/metadata', allow('read'), metadata);

  router.get('/studies/:study/series/:series/instances/:instance/bulkdata/*path', allow('read'), async (req, res) => {
    const [inst] = await findTarget(deps.index, req, parseTarget(req.params));
    const elementPath = ([] as string[]).concat((req.params as any).path).join('/');
    if (!/^[0-9A-Fa-f]{8}(\/\d+\/[0-9A-Fa-f]{8})*$/.test(elementPath)) throw new LucidaError('NOT_FOUND', 'no such bulk data');
    const { data, transferSyntaxUID } = extractBulkData(await readObject(deps.store, inst.objectKey), elementPath.toUpperCase());
    // Encapsulated pixel data comes out compressed (PS3.18 §8.7.3.5): labelled with its transfer
    // syntax, and only for clients that accept that syntax (or '*'); other bulk data is plain bytes.
    const partType = transferSyntaxUID ? `application/octet-stream; transfer-syntax=${transferSyntaxUID}` : 'application/octet-stream';
    const syntaxOk = (r: MediaRange) => {
      const ts = r.params['transfer-syntax'];
      return transferSyntaxUID ? ts === '*' || ts === transferSyntaxUID : ts === undefined || ts === '*' || ts === TS.ExplicitVRLittleEndian;
    };
    const multipart = negotiate(parseAccept(req.get('accept')), (r) => {
      const asked = multipartType(r, 'application/octet-stream');
      if (asked !== undefined) return asked === 'application/octet-stream' && syntaxOk(r) ? true : undefined;
      return r.essence === 'application/octet-stream' && syntaxOk(r) ? false : undefined;
    }, 'bulk data');
    if (!multipart) {
      res.status(200).setHeader('Content-Type', partType);
      res.send(data);
      return;
    }
    const writer = new MultipartWriter(res);
    res.status(200).setHeader('Content-Type', writer.contentTypeHeader('application/octet-stream'));
    await writer.writePart({ 'Content-Type': partType, 'Content-Location': req.originalUrl }, data);
    await writer.end();
    res.end();
  });
  return router;
}

/** Copy of `json` with relative BulkDataURIs (element paths) prefixed by `base`. */
function absoluteBulkDataUris(json: DicomJson, base: string): DicomJson {
  const out: DicomJson = {};
  for (const [tag, attr] of Object.entries(json)) {
    if (attr.BulkDataURI !== undefined && !/^[a-z]+:/i.test(attr.BulkDataURI)) {
      out[tag] = { ...attr, BulkDataURI: base + attr.BulkDataURI };
    } else if (attr.vr === 'SQ' && Array.isArray(attr.Value)) {
      out[tag] = { ...attr, Value: attr.Value.map((item) => absoluteBulkDataUris(item as DicomJson, base)) };
    } else {
      out[tag] = attr;
    }
  }
  return out;
}
