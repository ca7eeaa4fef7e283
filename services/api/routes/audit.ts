/**
 * GET /api/audit (admin): search the audit trail by patient, user, action, outcome, study and time,
 * newest first, as JSON, as a FHIR R4 Bundle of AuditEvent resources, or as DICOM Audit Messages
 * (PS3.15 A.5). Parameters: core/audit/search-params.ts. Reading the trail is itself audited, with
 * its query (action 'audit').
 */
import { Router, type Request, type Response } from 'express';
import { toDicomAuditMessages } from '../../core/audit/dicom-audit.js';
import { toFhirBundle } from '../../core/audit/fhir.js';
import { parseAuditSearch } from '../../core/audit/search-params.js';
import { noteQuery } from '../middleware/audit.js';
import type { AuditLog } from '../../core/audit/types.js';
import { allow } from '../middleware/auth.js';

/** How long a search waits for events appended just before it to be written (a search still answers if the database is slow). */
const FLUSH_WAIT_MS = 2_000;

export function auditRoutes(deps: { audit: AuditLog }): Router {
  const router = Router();

  router.get('/api/audit', allow('audit'), async (req: Request, res: Response) => {
    // Noted before parsing: a refused search is audited with what was asked.
    const asked = noteQuery(req);
    const { query, format } = parseAuditSearch(req.query as Record<string, unknown>);
    if (query.patientId) req.audit.patientIds.add(query.patientId);
    if (query.studyUID) req.audit.studyUIDs.add(query.studyUID);

    // What was appended before this search (the searcher's own requests included) is found by it.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([deps.audit.flush(), new Promise((resolve) => { timer = setTimeout(resolve, FLUSH_WAIT_MS); })]);
    clearTimeout(timer);
    const { events, truncated } = await deps.audit.search(query);

    res.setHeader('Cache-Control', 'no-store');
    if (format === 'fhir') {
      const next = new URLSearchParams(asked);
      next.set('offset', String(query.offset + query.limit));
      res.type('application/fhir+json').send(JSON.stringify(toFhirBundle(events, { truncated, nextUrl: `/api/audit?${next}` })));
    } else if (format === 'dicom') {
      res.type('application/xml').send(toDicomAuditMessages(events, { truncated }));
    } else {
      res.json({ events, truncated });
    }
  });

  return router;
}
