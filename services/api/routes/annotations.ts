/**
 * The viewer's calibrations and measurements on a photograph (core/annotations), kept as records
 * linked to its SOP Instance UID:
 *   GET    /api/instances/{sop}/annotations[?frame=n]  read: the frame's calibration and measurements, values computed here
 *   POST   /api/instances/{sop}/annotations            annotate: JSON {kind, points, label?, lengthMm?, frame?} → 201 + Location
 *   DELETE /api/instances/{sop}/annotations/{id}       annotate: marks one removed (nothing is deleted) → 204
 * The instance is looked up within the caller's scope in SQL: another patient's instance, like an
 * unknown one, is 404 (audited as denied for a patient-context token). An instance without Pixel Data
 * is 409 NO_PIXEL_DATA.
 */
import { Router, type Request, type Response } from 'express';
import { noteInstance } from '../../core/audit/types.js';
import { calibrationJson, annotationsJson, currentCalibration, measurementJson } from '../../core/annotations/present.js';
import type { AnnotatedInstance, AnnotationAuthor, AnnotationRepository } from '../../core/annotations/types.js';
import { checkAgainstImage, parseAnnotationBody } from '../../core/annotations/validate.js';
import { isValidUid } from '../../core/dicom/index.js';
import { LucidaError } from '../../core/errors.js';
import { readJsonBody } from '../http/json-body.js';
import { allow, scopeOf } from '../middleware/auth.js';

export interface AnnotationRouteDeps {
  annotations: AnnotationRepository;
  /** For the Location of a created annotation. */
  publicBaseUrl: string;
}

/** A freehand outline of 1000 points is about 40 KB of JSON. */
export const ANNOTATION_BODY_MAX_BYTES = 64 * 1024;
const NO_STORE = { 'Cache-Control': 'no-store' };

export function annotationRoutes(deps: AnnotationRouteDeps): Router {
  const router = Router();
  const path = '/api/instances/:sop/annotations';

  router.get(path, allow('read'), async (req: Request, res: Response) => {
    const frameParam = req.query.frame;
    const instance = await findInstance(deps.annotations, req);
    const frame = parseFrameQuery(frameParam, instance.numberOfFrames);
    const annotations = await deps.annotations.list(instance.sopInstanceUID, frame);
    res.set(NO_STORE).json(annotationsJson(instance, frame, annotations));
  });

  router.post(path, allow('annotate'), async (req: Request, res: Response) => {
    const input = parseAnnotationBody(await readJsonBody(req, ANNOTATION_BODY_MAX_BYTES));
    const instance = await findInstance(deps.annotations, req);
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
    const instance = await findInstance(deps.annotations, req);
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
 * The instance named by the URL, within the caller's scope, noted on the audit draft. 404 when it does
 * not exist or lies outside the scope (another patient's, audited as denied); 409 when it has no pixels.
 */
async function findInstance(annotations: AnnotationRepository, req: Request): Promise<AnnotatedInstance> {
  const sop = String(req.params.sop);
  if (!isValidUid(sop)) throw new LucidaError('INVALID_UID', 'the SOP Instance UID in the URL is not a valid UID');
  req.audit.sopInstanceUIDs.add(sop);
  const scope = scopeOf(req);
  const instance = await annotations.findInstance(sop, scope);
  if (!instance) {
    if (scope.patient) {
      // Another patient's instance, or nothing? Only the audit trail learns which.
      const owner = await annotations.instanceOwner(sop, scope);
      if (owner && !owner.visible) {
        req.audit.deniedOutOfScope = true;
        req.audit.patientIds.add(owner.patientId);
      }
    }
    throw new LucidaError('NOT_FOUND', 'no such instance');
  }
  noteInstance(req.audit, instance);
  if (!instance.hasPixelData || instance.rows === null || instance.columns === null) {
    throw new LucidaError('NO_PIXEL_DATA', 'this instance has no pixel data (it is not an image): there is nothing to calibrate or measure');
  }
  return instance;
}

function parseFrameQuery(value: unknown, frames: number): number {
  if (value === undefined) return 1;
  if (typeof value !== 'string' || !/^[1-9]\d{0,8}$/.test(value)) throw new LucidaError('INVALID_QUERY', 'frame must be a whole number from 1');
  const frame = Number(value);
  if (frame > frames) throw new LucidaError('INVALID_QUERY', `frame ${frame} does not exist: the image has ${frames} frame(s)`);
  return frame;
}

function authorOf(req: Request): AnnotationAuthor {
  const principal = req.principal!;
  return principal.clientId ? { subject: principal.subject, clientId: principal.clientId } : { subject: principal.subject };
}
