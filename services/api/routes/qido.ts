/**
 * QIDO-RS Search (PS3.18 §10.6) at every level. Query parameters become a typed QidoQuery
 * (services/core/qido) before any SQL is written; the index runs it as one SQL query.
 */
import { Router, type Request, type Response } from 'express';
import { parseQidoQuery, type QidoLevel } from '../../core/qido/query.js';
import type { Config } from '../../core/config.js';
import type { InstanceIndex } from '../../core/index/port.js';
import { TAG } from '../../core/dicom/dictionary.js';
import { firstString } from '../../core/dicom/index.js';
import type { DicomJson } from '../../core/dicom/json.types.js';
import { AUDIT_MAX_UIDS, type AuditDraft } from '../../core/audit/types.js';
import { allow, scopeOf } from '../middleware/auth.js';
import type { PublicUrls } from '../urls.js';
import { negotiateDicomJson } from '../http/negotiate.js';
import { parseTarget } from './retrieve-common.js';

export function qidoRoutes(deps: { index: InstanceIndex; config: Config; urls: PublicUrls }): Router {
  const router = Router();
  const search = (level: QidoLevel) => async (req: Request, res: Response) => {
    // /studies/{study}/series... search within the study (and series) the URL names.
    const target = req.params.study === undefined ? undefined : parseTarget(req.params);
    const type = negotiateDicomJson(req, 'search results');
    const raw = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?') + 1) : '';
    const query = parseQidoQuery(level, new URLSearchParams(raw),
      { studyInstanceUID: target?.studyInstanceUID, seriesInstanceUID: target?.seriesInstanceUID }, deps.config.qido);
    const params = new URLSearchParams(raw);
    req.audit.query = queryRecord(params);
    const scope = scopeOf(req);
    const result = await deps.index.search(query, deps.urls.root, scope);
    noteMatches(req.audit, result.matches);
    if (target) {
      // A search inside a study returns neither its UID nor its patient: the audit records both.
      req.audit.studyUIDs.add(target.studyInstanceUID);
      if (target.seriesInstanceUID) req.audit.seriesUIDs.add(target.seriesInstanceUID);
      const owner = result.matches.length ? await deps.index.studyPatient(target.studyInstanceUID, scope) : undefined;
      if (owner?.visible) req.audit.patientIds.add(owner.id);
    }
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

/** The query parameters as sent, for the audit event (a repeated parameter keeps all its values). */
function queryRecord(params: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    const values = params.getAll(key);
    out[key] = values.length === 1 ? values[0] : values;
  }
  return out;
}

/** Notes the patients and studies a search returned: "who looked at this patient" includes who found them. */
function noteMatches(audit: AuditDraft, matches: DicomJson[]): void {
  for (const m of matches) {
    if (audit.studyUIDs.size >= AUDIT_MAX_UIDS) break;
    const patientId = firstString(m, TAG.PatientID);
    if (patientId) audit.patientIds.add(patientId);
    const study = firstString(m, TAG.StudyInstanceUID);
    if (study) audit.studyUIDs.add(study);
  }
}
