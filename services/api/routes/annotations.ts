/**
 * The viewer's calibrations and measurements on a photograph (core/annotations), kept as records
 * linked to its SOP Instance UID:
 *   GET    /api/instances/{sop}/annotations[?frame=n]  read: the frame's calibration and measurements, values computed here
 *   POST   /api/instances/{sop}/annotations            annotate: JSON {kind, points, label?, lengthMm?, frame?} → 201 + Location
 *   DELETE /api/instances/{sop}/annotations/{id}       annotate: marks one removed (nothing is deleted) → 204
 * The instance is found by the WADO lookup (retrieve-common findTarget): within the caller's scope in
 * SQL, so another patient's instance, like an unknown one, is 404 (audited as denied for a
 * patient-context token). An instance without Pixel Data is 409 NO_PIXEL_DATA.
 */
import { Router, type Request, type Response } from 'express';
import { calibrationJson, annotationsJson, currentCalibration, measurementJson } from '../../core/annotations/present.js';
import type { AnnotatedInstance, AnnotationAuthor, AnnotationRepository } from '../../core/annotations/types.js';
import { checkAgainstImage, checkFrame, parseAnnotationBody } from '../../core/annotations/validate.js';
import { firstInteger, isValidUid, TAG } from '../../core/dicom/index.js';
import { LucidaError } from '../../core/errors.js';
import type { InstanceIndex } from '../../core/index/port.js';
import { readJsonBody } from '../http/json-body.js';
import { allow } from '../middleware/auth.js';
import { findTarget, isFrameNumber } from './retrieve-common.js';

interface AnnotationRouteDeps {
  index: InstanceIndex;
  annotations: AnnotationRepository;
  /** For the Location of a created annotation. */
  publicBaseUrl: string;
}

/** A freehand outline of 1000 points is about 40 KB of JSON. */
const ANNOTATION_BODY_MAX_BYTES = 64 * 1024;
const NO_STORE = { 'Cache-Control': 'no-store' };

export function annotationRoutes(deps: AnnotationRouteDeps): Router {
  const router = Router();
  const path = '/api/instances/:sop/annotations';

  router.get(path, allow('read'), async (req: Request, res: Response) => {
    const frameParam = req.query.frame;
    const instance = await findImage(deps.index, req);
    const frame = parseFrameQuery(frameParam, instance);
    const annotations = await deps.annotations.list(instance.sopInstanceUID, frame);
    res.set(NO_STORE).json(annotationsJson(instance, frame, annotations));
  });

  router.post(path, allow('annotate'), async (req: Request, res: Response) => {
    const input = parseAnnotationBody(await readJsonBody(req, ANNOTATION_BODY_MAX_BYTES));
    const instance = await findImage(deps.index, req);
    checkAgainstImage(input, instance);
    const created = await deps.annotations.create(instance, input, authorOf(req));
    req.audit.detail = `annotation ${created.id} (${created.kind})`;
    const body = created.kind === 'calibration'
      ? calibrationJson(created)
      : measurementJson(created, currentCalibration(await deps.annotations.list(instance.sopInstanceUID, created.frame)));
    res.status(201).set(NO_STORE)
      .location(`${deps.publicBaseUrl}/api/instances/${instance.sopInstanceUID}/annotations/${created.id}`)
      .json(body);
  });

  router.delete(`${path}/:id`, allow('annotate'), async (req: Request, res: Response) => {
    const instance = await findImage(deps.index, req);
    const id = String(req.params.id);
    if (!await deps.annotations.remove(instance.sopInstanceUID, id, authorOf(req))) {
      throw new LucidaError('NOT_FOUND', 'no such annotation on this instance, or it was already removed');
    }
    req.audit.detail = `annotation ${id.toLowerCase()} removed`;
    res.status(204).end();
  });

  return router;
}

/**
 * The image named by the URL: the stored instance found (and noted on the audit draft) by findTarget,
 * so 404 when it does not exist or lies outside the caller's scope; 409 when it has no pixels. Rows and
 * Columns are read from its metadata, as the index reads them (index-rows.ts).
 */
async function findImage(index: InstanceIndex, req: Request): Promise<AnnotatedInstance> {
  const sop = String(req.params.sop);
  if (!isValidUid(sop)) throw new LucidaError('INVALID_UID', 'the SOP Instance UID in the URL is not a valid UID');
  const [inst] = await findTarget(index, req, { sopInstanceUID: sop }, { withMetadata: true });
  const rows = firstInteger(inst.metadata!, TAG.Rows);
  const columns = firstInteger(inst.metadata!, TAG.Columns);
  if (!inst.hasPixelData || rows === undefined || columns === undefined) {
    throw new LucidaError('NO_PIXEL_DATA', 'this instance has no pixel data (it is not an image): there is nothing to calibrate or measure');
  }
  return {
    patientId: inst.patientId, issuer: inst.issuer, studyInstanceUID: inst.studyInstanceUID, seriesInstanceUID: inst.seriesInstanceUID,
    sopInstanceUID: inst.sopInstanceUID, rows, columns, numberOfFrames: inst.numberOfFrames ?? 1,
  };
}

/** GET's `?frame=`: 1-based, the first when absent; 400 INVALID_QUERY for one the image does not have. */
function parseFrameQuery(value: unknown, image: AnnotatedInstance): number {
  if (value === undefined) return 1;
  if (typeof value !== 'string' || !isFrameNumber(value)) throw new LucidaError('INVALID_QUERY', 'frame must be a whole number from 1');
  const frame = Number(value);
  checkFrame(frame, image, 'INVALID_QUERY');
  return frame;
}

function authorOf(req: Request): AnnotationAuthor {
  const principal = req.principal!;
  return principal.clientId ? { subject: principal.subject, clientId: principal.clientId } : { subject: principal.subject };
}
