/**
 * The patient timeline for the viewer:
 *   GET /api/timeline[?patient=<PatientID>[&issuer=<IssuerOfPatientID>]]
 * The patient's demographics, studies (newest first, with their consent) and photographs (newest
 * first, with body site, laterality, view, capture details, QA flags and annotation counts), from the
 * archive's index (core/timeline). A viewer session names no patient and gets its own; asking for
 * another patient is answered 404 exactly like an unknown patient.
 */
import { Router, type Request, type Response } from 'express';
import { AUDIT_MAX_UIDS } from '../../core/audit/types.js';
import { LucidaError } from '../../core/errors.js';
import { outsideContext, parseTimelineQuery } from '../../core/timeline/query.js';
import type { TimelineSource } from '../../core/timeline/types.js';
import { noteQuery } from '../middleware/audit.js';
import { allow, scopeOf } from '../middleware/auth.js';

export interface TimelineRouteDeps { timeline: TimelineSource }

export function timelineRoutes(deps: TimelineRouteDeps): Router {
  const router = Router();

  router.get('/api/timeline', allow('read'), async (req: Request, res: Response) => {
    const context = req.principal!.patient;
    const request = parseTimelineQuery(noteQuery(req), context);
    req.audit.patientIds.add(request.patientId);
    const result = await deps.timeline.timeline(request, scopeOf(req));
    if (!result.found) {
      if (result.reason === 'ambiguous') {
        throw new LucidaError('INVALID_QUERY', 'several patients (of different issuers) have this PatientID: add issuer');
      }
      // Another patient's timeline asked for with a patient-context token: only the audit trail says so.
      if (outsideContext(request, context)) req.audit.deniedOutOfScope = true;
      throw new LucidaError('NOT_FOUND', 'no such patient, or no photographs of theirs this token may see');
    }
    const { timeline } = result;
    req.audit.patientIds.add(timeline.patient.id);
    for (const study of timeline.studies.slice(0, AUDIT_MAX_UIDS)) req.audit.studyUIDs.add(study.studyInstanceUID);
    // Patient data for one user: no shared or browser cache keeps it.
    res.set('Cache-Control', 'no-store').json(timeline);
  });

  return router;
}
