/**
 * The viewer's calls to the Lucida API, all with the session's bearer token: the patient's
 * timeline, photograph thumbnails, instance metadata, and the persisted calibration and
 * measurements. DICOM pixel data is fetched by Cornerstone's WADO-RS loader (imaging.ts).
 */
import { ApiError, problemOf } from './api-error';
import { authorization } from './session';

export interface Coded { code: string; scheme: string; meaning?: string }

export interface TimelinePatient {
  id: string; issuer?: string;
  name?: { family?: string; given?: string[]; text?: string } | null;
  birthDate?: string | null; sex?: string | null;
}
export interface TimelineStudy {
  studyInstanceUID: string; date?: string | null; time?: string | null; description?: string | null; accessionNumber?: string | null;
  consent?: { level: 'record' | 'teaching' | 'publication'; status: 'given' | 'withdrawn'; recordedAt?: string } | null;
}
export interface Photo {
  studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; sopClassUID?: string;
  instanceNumber?: number | null; seriesNumber?: number | null; acquired?: string | null;
  bodySite?: Coded | null; laterality?: string | null; view?: Coded | null; seriesDescription?: string | null;
  photographer?: string | null; institution?: string | null; camera?: { manufacturer?: string | null; model?: string | null } | null;
  rows?: number; columns?: number; qa?: Record<string, unknown> | null;
  annotations?: { calibrated: boolean; measurements: number };
}
export interface Timeline { patient: TimelinePatient; studies: TimelineStudy[]; photos: Photo[]; truncated: boolean }

export type MeasurementKind = 'length' | 'ellipse' | 'freehand' | 'angle';
export interface Calibration { id: string; points: number[][]; lengthMm: number; mmPerPixel: number; createdBy: string; createdAt: string }
export interface Measurement {
  id: string; kind: MeasurementKind; points: number[][]; label?: string | null; value: number; unit: string; createdBy: string; createdAt: string;
}
export interface Annotations { sopInstanceUID: string; columns: number; rows: number; calibration: Calibration | null; measurements: Measurement[] }

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...init.headers, Authorization: authorization() }, credentials: 'same-origin' });
  if (!res.ok) throw await problemOf(res);
  return res;
}

const json = async <T>(path: string, init?: RequestInit): Promise<T> => (await call(path, { ...init, headers: { Accept: 'application/json', ...init?.headers } })).json() as Promise<T>;

export const getTimeline = () => json<Timeline>('/api/timeline');

export const instancePath = (p: Pick<Photo, 'studyInstanceUID' | 'seriesInstanceUID' | 'sopInstanceUID'>) =>
  `/dicomweb/studies/${p.studyInstanceUID}/series/${p.seriesInstanceUID}/instances/${p.sopInstanceUID}`;

const metadataCache = new Map<string, Promise<Record<string, unknown>>>();

/**
 * The instance's DICOM JSON (one object), for Cornerstone's WADO-RS metadata. Asked for once per
 * instance: the first photograph's is fetched as soon as the timeline names it, while Cornerstone
 * is still starting.
 */
export function getInstanceMetadata(p: Photo): Promise<Record<string, unknown>> {
  let pending = metadataCache.get(p.sopInstanceUID);
  if (!pending) {
    pending = json<Record<string, unknown>[]>(`${instancePath(p)}/metadata`, { headers: { Accept: 'application/dicom+json' } }).then(([dataset]) => {
      if (!dataset) throw new ApiError(404, 'NOT_FOUND', 'This photograph has no metadata');
      return dataset;
    });
    pending.catch(() => metadataCache.delete(p.sopInstanceUID));
    metadataCache.set(p.sopInstanceUID, pending);
  }
  return pending;
}

/** Asks whether a study the URL named is visible to this session (404 when it is not: another patient's, or unknown). */
export async function checkStudy(studyUID: string): Promise<void> {
  await call(`/dicomweb/studies/${encodeURIComponent(studyUID)}/metadata`, { headers: { Accept: 'application/dicom+json' } });
}

/** A thumbnail as an object URL (img elements cannot send the bearer token). */
export async function thumbnailUrl(p: Photo, signal?: AbortSignal): Promise<string> {
  const res = await call(`${instancePath(p)}/thumbnail`, { headers: { Accept: 'image/jpeg' }, signal });
  return URL.createObjectURL(await res.blob());
}

const annotationsPath = (sop: string) => `/api/instances/${encodeURIComponent(sop)}/annotations`;

export const getAnnotations = (sop: string) => json<Annotations>(annotationsPath(sop));

export const postAnnotation = <T>(sop: string, body: { kind: MeasurementKind | 'calibration'; points: number[][]; lengthMm?: number; label?: string }) =>
  json<T>(annotationsPath(sop), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

export async function deleteAnnotation(sop: string, id: string): Promise<void> {
  await call(`${annotationsPath(sop)}/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
