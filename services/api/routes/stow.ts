/**
 * STOW-RS Store Instances (PS3.18 §10.5): POST /studies[/{study}] with
 * multipart/related; type="application/dicom". The body is streamed part by part: one instance
 * is in memory at a time (bounded by STOW_MAX_PART_MB), handed to the single ingest path.
 */
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import type { DicomJson } from '../../core/dicom/json.types.js';
import { TAG } from '../../core/dicom/dictionary.js';
import { ingestInstance, FailureReason, type IngestDeps, type IngestOutcome } from '../../core/ingest/ingest-instance.js';
import { readAll } from '../../core/storage/object-store.js';
import { parseMediaType } from '../http/media-type.js';
import { multipartType, negotiateDicomJson } from '../http/negotiate.js';
import { boundaryFromContentType, partEssence, readMultipart } from '../multipart/related.js';
import { limitBody } from '../http/limit-body.js';
import { storeMetadataAndBulkData, type StowPhotoDeps } from './stow-photo.js';
import { allow, scopeOf } from '../middleware/auth.js';
import { noteInstance } from '../../core/audit/types.js';
import type { PublicUrls } from '../urls.js';
import { parseTarget } from './retrieve-common.js';

export function stowRoutes(deps: StowPhotoDeps & { urls: PublicUrls }): Router {
  const router = Router();
  const handler = async (req: Request<{ study?: string }>, res: Response) => {
    const study = req.params.study === undefined ? undefined : parseTarget(req.params).studyInstanceUID;
    const responseType = negotiateDicomJson(req, 'STOW-RS responses');

    const ct = parseMediaType(req.get('content-type') ?? '');
    const partType = multipartType(ct, 'application/dicom');
    if (partType === undefined) {
      throw new LucidaError('UNSUPPORTED_MEDIA_TYPE', 'STOW-RS takes multipart/related; type="application/dicom"');
    }
    if (partType !== 'application/dicom' && partType !== 'application/dicom+json') {
      throw new LucidaError('UNSUPPORTED_MEDIA_TYPE',
        `multipart/related type "${partType}" is not supported; use application/dicom, or application/dicom+json with image bulk data`);
    }
    const boundary = boundaryFromContentType(ct);
    const { maxRequestBytes, maxPartBytes, maxParts } = deps.config.stow;
    if (partType === 'application/dicom+json') {
      const outcomes = await storeMetadataAndBulkData(deps, req, boundary, study);
      return respond(req, res, outcomes, responseType, study);
    }

    // Parts are read in order; up to `ingestConcurrency` of them (and at most `ingestWindowBytes`
    // of their bytes) are ingested at once, so reading the next part overlaps storing this one.
    const outcomes: IngestOutcome[] = [];
    const active = new Set<Promise<void>>();
    let activeBytes = 0;
    let interrupted: LucidaError | undefined;
    const { ingestConcurrency, ingestWindowBytes } = deps.config.stow;
    try {
      for await (const part of readMultipart(limitBody(req, maxRequestBytes), boundary, { maxPartBytes, maxParts })) {
        const type = partEssence(part, 'application/dicom');
        if (type !== 'application/dicom') {
          // Not read: readMultipart discards it on the way to the next part.
          outcomes.push({
            status: 'failed', reason: FailureReason.CannotUnderstand,
            comment: type === undefined ? 'part with a malformed Content-Type' : `part of type ${type} is not application/dicom`,
          });
          continue;
        }
        const bytes = await readAll(part.body);
        deps.metrics.stowReceived(bytes.length);
        const slot = outcomes.length;
        outcomes.push(undefined as unknown as IngestOutcome); // filled when its ingest settles
        while (active.size >= ingestConcurrency || (active.size > 0 && activeBytes + bytes.length > ingestWindowBytes)) {
          await Promise.race(active);
        }
        activeBytes += bytes.length;
        const task: Promise<void> = ingestSafely(deps, bytes, study, req)
          .then((o) => { outcomes[slot] = o; })
          .finally(() => { activeBytes -= bytes.length; active.delete(task); });
        active.add(task);
      }
    } catch (err) {
      await Promise.all(active);
      if (!(err instanceof LucidaError) || outcomes.length === 0) throw err;
      // Instances before the broken part are stored and durable: report them, and the break.
      interrupted = err;
    }
    await Promise.all(active);
    if (outcomes.length === 0) throw new LucidaError('MALFORMED_MULTIPART', 'the request contained no parts');
    respond(req, res, outcomes, responseType, study, interrupted);
  };

  /** PS3.18 §10.5.3: the Store Instances Response, its status code, and one log line per instance. */
  const respond = (req: Request, res: Response, outcomes: IngestOutcome[], responseType: string, study?: string, interrupted?: LucidaError) => {
    for (const o of outcomes) {
      noteOutcome(req, o);
      deps.metrics.stowInstance(o.status);
      req.log.info({
        sopInstanceUID: o.sopInstanceUID, status: o.status,
        ...(o.status === 'failed' ? { reason: o.reason.toString(16) } : { duplicate: o.duplicate }),
      }, 'stow instance');
    }
    const body = storeResponse(outcomes, deps.urls, study, interrupted);
    const stored = outcomes.filter((o) => o.status === 'stored');
    const warned = stored.some((o) => o.status === 'stored' && o.warnings.length > 0);
    // PS3.18 §10.5.3.1: 200 all stored; 202 some failed or stored with warnings; 409 none stored.
    const status = stored.length === 0 ? 409 : (stored.length < outcomes.length || warned || interrupted ? 202 : 200);
    if (interrupted) res.setHeader('Warning', `299 lucida "request interrupted after ${outcomes.length} part(s): ${interrupted.message.replace(/"/g, "'")}"`);
    res.status(status).type(responseType).send(JSON.stringify(body));
  };
  router.post('/studies', allow('store'), handler);
  router.post('/studies/:study', allow('store'), handler);
  return router;
}

/** ingestInstance, with an unexpected error (e.g. the database went away) reported as this instance's failure. */
async function ingestSafely(deps: IngestDeps, bytes: Buffer, study: string | undefined, req: Request): Promise<IngestOutcome> {
  try {
    // Noted as each instance settles: a request cut off later still accounts for what it stored.
    return noteOutcome(req, await ingestInstance(deps, bytes, { expectedStudyUID: study, storedBy: req.principal?.subject, scope: scopeOf(req) }));
  } catch (err) {
    req.log.error({ err }, 'ingest failed');
    return { status: 'failed', reason: FailureReason.ProcessingFailure, comment: 'the archive could not store the instance; retry later' };
  }
}

const ui = (v?: string) => (v ? { vr: 'UI', Value: [v] } : { vr: 'UI' });
const us = (v: number) => ({ vr: 'US', Value: [v] });
// PS3.7 (0000,0902) Error Comment: human-readable reason beside each failure or warning code.
const ERROR_COMMENT = '00000902';
const lo = (v: string) => ({ vr: 'LO', Value: [v.slice(0, 64)] });

/** Store Instances Response Module (PS3.18 §10.5.3, Table 10.5.3-3) as DICOM JSON. */
function storeResponse(outcomes: IngestOutcome[], urls: PublicUrls, study: string | undefined, interrupted?: LucidaError): DicomJson {
  const referenced: DicomJson[] = [];
  const failed: DicomJson[] = [];
  const studies = new Set<string>();
  for (const o of outcomes) {
    if (o.status === 'stored') {
      studies.add(o.studyInstanceUID);
      const item: DicomJson = {
        [TAG.ReferencedSOPClassUID]: ui(o.sopClassUID),
        [TAG.ReferencedSOPInstanceUID]: ui(o.sopInstanceUID),
        [TAG.RetrieveURL]: { vr: 'UR', Value: [urls.instance(o.studyInstanceUID, o.seriesInstanceUID, o.sopInstanceUID)] },
      };
      if (o.warnings.length) {
        item[TAG.WarningReason] = us(o.warnings[0].reason);
        item[ERROR_COMMENT] = lo(o.warnings.map((w) => w.comment).join('; '));
      }
      referenced.push(item);
    } else {
      failed.push({
        [TAG.ReferencedSOPClassUID]: ui(o.sopClassUID),
        [TAG.ReferencedSOPInstanceUID]: ui(o.sopInstanceUID),
        [TAG.FailureReason]: us(o.reason),
        [ERROR_COMMENT]: lo(o.comment),
      });
    }
  }
  if (interrupted) {
    failed.push({
      [TAG.ReferencedSOPClassUID]: ui(), [TAG.ReferencedSOPInstanceUID]: ui(),
      [TAG.FailureReason]: us(FailureReason.CannotUnderstand), [ERROR_COMMENT]: lo(interrupted.message),
    });
  }
  const target = study ?? (studies.size === 1 ? [...studies][0] : undefined);
  const body: DicomJson = {};
  if (target && referenced.length) body[TAG.RetrieveURL] = { vr: 'UR', Value: [urls.study(target)] };
  if (failed.length) body[TAG.FailedSOPSequence] = { vr: 'SQ', Value: failed };
  if (referenced.length) body[TAG.ReferencedSOPSequence] = { vr: 'SQ', Value: referenced };
  return body;
}

/**
 * Notes what a STOW outcome touched on the request's audit draft: a stored instance, or another
 * patient's instance refused to a patient-context token (0x0124). Returns the outcome.
 */
export function noteOutcome(req: Request, o: IngestOutcome): IngestOutcome {
  if (o.status === 'stored') {
    noteInstance(req.audit, o);
  } else if (o.reason === FailureReason.NotAuthorized) {
    req.audit.detail = 'instance of another patient refused (0x0124)';
    if (o.patientId) req.audit.patientIds.add(o.patientId);
  }
  return o;
}
