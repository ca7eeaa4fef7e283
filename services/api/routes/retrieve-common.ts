/**
 * Shared pieces of the WADO-RS services (PS3.18 §10.4): parsing and finding the target resource,
 * frame numbers, and transfer-syntax negotiation (§8.7.3.5).
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { AUDIT_MAX_UIDS, noteInstance, type AuditDraft } from '../../core/audit/types.js';
import { scopeOf } from '../middleware/auth.js';
import { LucidaError } from '../../core/errors.js';
import { canDecodeToNative, isValidUid, toExplicitVRLittleEndian, TS } from '../../core/dicom/index.js';
import type { InstanceFilter, InstanceIndex, StoredInstance } from '../../core/index/port.js';
import { readObject, type ObjectStore } from '../../core/storage/object-store.js';

/**
 * The study, series or instance a WADO-RS URL (or a WADO-URI query) names, UIDs checked; or an
 * instance named by its SOP Instance UID alone (/api/instances/{sop}/...).
 */
export type Target = InstanceFilter;

/**
 * The target named by `study`, `series` and `instance` (route parameters, or a query's values);
 * other members are ignored. 400 INVALID_UID for a malformed UID, BAD_REQUEST without a study.
 */
export function parseTarget(p: { study?: string; series?: string; instance?: string }): Extract<Target, { studyInstanceUID: string }> {
  for (const name of ['study', 'series', 'instance'] as const) {
    const uid = p[name];
    if (uid !== undefined && !isValidUid(uid)) throw new LucidaError('INVALID_UID', `the ${name} UID in the URL is not a valid UID`);
  }
  if (p.study === undefined) throw new LucidaError('BAD_REQUEST', 'no study UID given');
  return { studyInstanceUID: p.study, seriesInstanceUID: p.series, sopInstanceUID: p.instance };
}

/**
 * The stored instances of a target the caller may see (req.scope), in series then instance order,
 * noted on the request's audit draft. 404 when there are none, whether nothing exists or it lies
 * outside the caller's scope (another patient's UIDs reveal nothing); the latter is audited as denied.
 */
export async function findTarget(index: InstanceIndex, req: Request, target: Target, opts?: { withMetadata?: boolean }): Promise<StoredInstance[]> {
  const scope = scopeOf(req);
  const audit = req.audit;
  if (target.studyInstanceUID) audit.studyUIDs.add(target.studyInstanceUID);
  if (target.seriesInstanceUID) audit.seriesUIDs.add(target.seriesInstanceUID);
  if (target.sopInstanceUID) audit.sopInstanceUIDs.add(target.sopInstanceUID);
  const found = await index.findInstances(target, { ...opts, scope });
  if (found.length === 0) {
    if (scope.patient) {
      // Another patient's data, or nothing? Only the audit trail learns which. (A photographer
      // looking past their own work of today is an ordinary not-found, not a security event.)
      const owner = await index.studyPatient(target.studyInstanceUID ?? { sopInstanceUID: target.sopInstanceUID }, scope);
      if (owner && !owner.visible) {
        audit.deniedOutOfScope = true;
        audit.patientIds.add(owner.id);
      }
    }
    const what = target.sopInstanceUID ? 'instance' : target.seriesInstanceUID ? 'series' : 'study';
    throw new LucidaError('NOT_FOUND', `no such ${what}`);
  }
  noteInstances(audit, found);
  return found;
}

/** Notes the patients, series and instances a response carries on the audit draft. */
function noteInstances(audit: AuditDraft, instances: StoredInstance[]): void {
  for (const inst of instances) {
    if (audit.sopInstanceUIDs.size >= AUDIT_MAX_UIDS) break; // a whole study: the event keeps this many
    noteInstance(audit, inst);
  }
}

/** A frame number (PS3.18 §10.4.1.1.3: 1-based) in a URL; nine digits at most, so a safe integer. */
export const isFrameNumber = (s: string): boolean => /^[1-9]\d{0,8}$/.test(s);

/**
 * The transfer syntax to send an instance in for a requested `transfer-syntax` parameter:
 * '*' = as stored; none = Explicit VR Little Endian (PS3.18 §8.7.3.5.2 default); otherwise that
 * syntax if it is the stored one, or Explicit VR LE we can transcode to (not from pixel data found
 * damaged). undefined = cannot.
 */
export function deliverableSyntax(stored: string, requested: string | undefined, decodable = true): string | undefined {
  if (requested === '*') return stored;
  const want = requested ?? TS.ExplicitVRLittleEndian;
  if (want === stored) return stored;
  if (want === TS.ExplicitVRLittleEndian && canDecodeToNative(stored) && decodable) return want;
  return undefined;
}

/**
 * The instance in transfer syntax `ts` (one of deliverableSyntax's answers): streamed from the
 * store when that is how it was stored, otherwise read and converted to Explicit VR LE.
 */
export async function instanceIn(store: ObjectStore, inst: StoredInstance, ts: string): Promise<Readable | Buffer> {
  if (ts === inst.transferSyntaxUID) return store.get(inst.objectKey);
  return toExplicitVRLittleEndian(await readObject(store, inst.objectKey));
}

/** Sends one instance as a single-part application/dicom body (the caller has set status and type). */
export async function sendInstance(store: ObjectStore, inst: StoredInstance, ts: string, res: Response): Promise<void> {
  const body = await instanceIn(store, inst, ts);
  if (Buffer.isBuffer(body)) {
    res.send(body);
    return;
  }
  res.setHeader('Content-Length', String(inst.sizeBytes));
  await pipeline(body, res);
}
