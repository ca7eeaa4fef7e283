/**
 * QIDO-RS Search (PS3.18 §10.6) at every level. Query parameters become a typed QidoQuery
 * (services/core/qido) before any SQL is written; the index runs it as one SQL query.
 */
import { Router, type Request, type Response } from 'express';
import { parseQidoQuery, type QidoLevel } from '../../core/qido/query.js';
import type { Config } from '../../core/config.js';
import type { InstanceIndex } from '../../core/index/port.js';
import { allow, scopeOf } from '../middleware/auth.js';
import { noteQuery } from '../middleware/audit.js';
import type { PublicUrls } from '../urls.js';
import { negotiateDicomJson } from '../http/negotiate.js';
import { parseTarget } from './retrieve-common.js';

export function qidoRoutes(deps: { index: InstanceIndex; config: Config; urls: PublicUrls }): Router {
  const router = Router();
  const search = (level: QidoLevel) => async (req: Request, res: Response) => {
    // /studies/{study}/series... search within the study (and series) the URL names.
    const target = req.params.study === undefined ? undefined : parseTarget(req.params);
    const type = negotiateDicomJson(req, 'search results');
    const query = parseQidoQuery(level, noteQuery(req),
      { studyInstanceUID: target?.studyInstanceUID, seriesInstanceUID: target?.seriesInstanceUID }, deps.config.qido);
    const result = await deps.index.search(query, deps.urls.root, scopeOf(req));
    // Whose data was found, whatever attributes the response carries (a search inside a study returns
    // neither its UID nor its patient).
    for (const id of result.patientIds) req.audit.patientIds.add(id);
    for (const uid of result.studyUIDs) req.audit.studyUIDs.add(uid);
    // The study (and series) a URL searches inside is what was asked about, found or not.
    if (target) req.audit.studyUIDs.add(target.studyInstanceUID);
    if (target?.seriesInstanceUID) req.audit.seriesUIDs.add(target.seriesInstanceUID);
    const warnings = [...result.warnings];
    // PS3.18 §8.3.4.4: tell the client when the result set was cut by limit.
    if (result.truncated) warnings.unshift('There are additional results that can be requested');
    if (warnings.length) {
      res.setHeader('Warning', warnings.map((w) => `299 lucida: "${w.replace(/"/g, "'")}"`).join(', '));
    }
    res.status(200).type(type);
    res.send(JSON.stringify(result.matches));
  };
  router.get('/studies', allow('read'), search('study'));
  router.get('/series', allow('read'), search('series'));
  router.get('/instances', allow('read'), search('instance'));
  router.get('/studies/:study/series', allow('read'), search('series'));
  router.get('/studies/:study/instances', allow('read'), search('instance'));
  router.get('/studies/:study/series/:series/instances', allow('read'), search('instance'));
  return router;
}
