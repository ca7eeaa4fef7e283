/**
 * The `derive` job, after every newly stored image (photos and DICOM alike): the standard thumbnail
 * and default rendering go to the object store, so /thumbnail and /rendered are served without
 * decoding, and photographs get their QA figures (sharpness, clipping, resolution).
 */
import type { Logger } from 'pino';
import { STANDARD_RENDITIONS, renditionVariant } from '../core/dicom/renditions.js';
import { isLucidaError } from '../core/errors.js';
import type { InstanceIndex } from '../core/index/port.js';
import { deriveStandardRenditions } from '../core/photo/index.js';
import type { DeriveJob } from '../core/queue/jobs.js';
import { objectKeys, readObject, type ObjectStore } from '../core/storage/object-store.js';

export interface DeriveDeps { index: InstanceIndex; store: ObjectStore; log: Logger }

export async function deriveInstance(deps: DeriveDeps, job: DeriveJob): Promise<void> {
  const [inst] = await deps.index.findInstances(job);
  if (!inst?.hasPixelData) return; // gone, or nothing to render
  const log = deps.log.child({ sopInstanceUID: job.sopInstanceUID });
  let derived;
  try {
    derived = await deriveStandardRenditions(await readObject(deps.store, inst.objectKey), { sopClassUID: inst.sopClassUID });
  } catch (err) {
    // An image this archive cannot render (a codec it lacks) is not worth retrying.
    if (isLucidaError(err) && err.status < 500) {
      log.info({ code: err.code }, 'no renditions for this instance');
      // Damaged pixel data: recorded, so that retrievals which would have to decode it refuse up
      // front (406) rather than fail half way through a multipart response.
      if (err.code === 'INVALID_DICOM') await deps.index.setQa(job.sopInstanceUID, { undecodable: err.message.slice(0, 200) });
      return;
    }
    throw err;
  }
  const key = (p: (typeof STANDARD_RENDITIONS)[keyof typeof STANDARD_RENDITIONS]) =>
    objectKeys.derivative(job.sopInstanceUID, renditionVariant(1, p));
  await deps.store.put(key(STANDARD_RENDITIONS.thumbnail), derived.thumbnail);
  // A stored frame that is itself the rendering (camera JPEGs) is served from the instance: no copy.
  if (!derived.renderedIsStoredFrame) await deps.store.put(key(STANDARD_RENDITIONS.rendered), derived.rendered);
  if (derived.qa) await deps.index.setQa(job.sopInstanceUID, derived.qa);
  log.debug('renditions stored');
}
