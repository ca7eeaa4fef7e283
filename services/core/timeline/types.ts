/**
 * The patient timeline (GET /api/timeline): a patient's demographics, studies and photographs as the
 * viewer lists them, with each photograph's clinical context (body site, laterality, view), capture
 * details, image-QA flags and annotation counts. Everything comes from the archive's index, never
 * from the request. The Postgres adapter is index/postgres-timeline.ts.
 */
import type { AccessScope } from '../auth/policy.js';
import type { ConsentLevel } from '../capture/types.js';

/** A coded concept from a Code Sequence item (PS3.3 Table 8.8-1a). */
export interface CodeJson { code: string; scheme: string; meaning: string }

export interface PersonNameJson {
  family: string;
  given: string[];
  /** "Family, Given Middle" for display. */
  text: string;
}

export interface TimelinePatient {
  id: string;
  issuer: string;
  name: PersonNameJson | null;
  /** YYYY-MM-DD. */
  birthDate: string | null;
  sex: 'F' | 'M' | 'O' | null;
}

export interface TimelineStudy {
  studyInstanceUID: string;
  /** YYYY-MM-DD. */
  date: string | null;
  /** HH:MM:SS. */
  time: string | null;
  description: string | null;
  accessionNumber: string | null;
  /** The latest consent record of the study (consent_records, migration 005); null when none was recorded. */
  consent: { level: ConsentLevel; status: 'given' | 'withdrawn'; recordedAt: string } | null;
}

export interface TimelinePhoto {
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  instanceNumber: number | null;
  seriesNumber: number | null;
  /** Local date-time YYYY-MM-DDTHH:MM:SS (or a date YYYY-MM-DD): AcquisitionDateTime, else ContentDate + ContentTime, else StudyDate + StudyTime. */
  acquired: string | null;
  bodySite: CodeJson | null;
  laterality: 'R' | 'L' | 'B' | 'U' | null;
  view: CodeJson | null;
  seriesDescription: string | null;
  /** OperatorsName (0008,1070), as display text. */
  photographer: string | null;
  institution: string | null;
  /** StationName (0008,1010): the studio. */
  station: string | null;
  camera: { manufacturer: string | null; model: string | null } | null;
  rows: number | null;
  columns: number | null;
  /** The derive job's QA figures and flags (instances.qa), or null before it ran. */
  qa: unknown;
  annotations: { calibrated: boolean; measurements: number };
}

export interface Timeline {
  patient: TimelinePatient;
  /** Newest first. */
  studies: TimelineStudy[];
  /** Newest first (acquired, then study date), then by series and instance number. */
  photos: TimelinePhoto[];
  /** True when the patient has more than MAX_TIMELINE_PHOTOS photographs: the oldest were left out. */
  truncated: boolean;
}

/** Most photographs one timeline lists. */
export const MAX_TIMELINE_PHOTOS = 2000;

/** A patient as the timeline request names it: without an issuer, any issuer's PatientID. */
export interface TimelineRequest { patientId: string; issuer?: string }

export type TimelineResult =
  | { found: true; timeline: Timeline }
  | { found: false; reason: 'not-found' }
  /** Several patients (issuers) have this PatientID and the request named no issuer. */
  | { found: false; reason: 'ambiguous' };

export interface TimelineSource {
  /** The patient's timeline within `scope` (policy.ts): only what the caller may see is listed. */
  timeline(request: TimelineRequest, scope: AccessScope): Promise<TimelineResult>;
}
