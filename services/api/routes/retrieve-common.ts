/**
 * Shared pieces of the WADO-RS services (PS3.18 §10.4): resolving the target resource, checking
 * UIDs, and transfer-syntax negotiation (§8.7.3.5).
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { canDecodeToNative, isValidUid, toExplicitVRLittleEndian, TS } from '../../core/dicom/index.js';
import type { InstanceIndex, StoredInstance } from '../../core/index/port.js';
import { readObject, type ObjectStore } from '../../core/storage/object-store.js';

export interface TargetParams { study: string; series?: string; instance?: string }

/** Stored instances of the study/series/instance in the URL; 400 for a malformed UID, 404 when none. */
export async function resolveTarget(index: InstanceIndex, req: Request<any>, opts?: { withMetadata?: boolean }): Promise<StoredInstance[]> {
  const p = req.params as TargetParams;
  for (const [name, uid] of Object.entries(p)) {
    if (['study', 'series', 'instance'].includes(name) && uid !== undefined && !isValidUid(uid)) {
      throw new LucidaError('INVALID_UID', `the ${name} UID in the URL is not a valid UID`);
    }
  }
  const found = await index.findInstances({
    studyInstanceUID: p.study, seriesInstanceUID: p.series, sopInstanceUID: p.instance,
  }, opts);
  if (found.length === 0) {
    const what = p.instance ? 'instance' : p.series ? 'series' : 'study';
    throw new LucidaError('NOT_FOUND', `no such ${what}`);
  }
  return found;
}

/**
 * The transfer syntax to send an instance in for a requested `transfer-syntax` parameter:
 * '*' = as stored; none = Explicit VR Little Endian (PS3.18 §8.7.3.5.2 default); otherwise that
 * syntax if it is the stored one, or Explicit VR LE we can transcode to. undefined = cannot.
 */
export function deliverableSyntax(stored: string, requested: string | undefined): string | undefined {
  if (requested === '*') return stored;
  const want = requested ?? TS.ExplicitVRLittleEndian;
  if (want === stored) return stored;
  if (want === TS.ExplicitVRLittleEndian && canDecodeToNative(stored)) return want;
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
