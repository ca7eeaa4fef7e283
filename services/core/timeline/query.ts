/**
 * The query of GET /api/timeline, parsed before any lookup: `patient` (PatientID) and optional
 * `issuer` (IssuerOfPatientID). A patient-context token (a viewer session) may leave both out and gets
 * its own patient's timeline; any other caller must name the patient.
 */
import type { PatientRef } from '../auth/principal.js';
import { parsePatient } from '../auth/launch.js';
import { isLongStringIdentifier } from '../capture/dicom-text.js';
import { isLucidaError, LucidaError } from '../errors.js';
import type { TimelineRequest } from './types.js';

const PARAMETERS = ['patient', 'issuer'];
const invalid = (detail: string) => new LucidaError('INVALID_QUERY', detail);

/**
 * The patient the caller asks for. `issuer` absent: any issuer's PatientID (the answer is 400 when
 * several patients share it); `issuer=` (empty): a patient recorded without IssuerOfPatientID; any
 * other issuer as parsePatient reads it: `NHS` (any case, or the NHS number's OID) takes a valid NHS
 * number (modulus 11 checked), written with or without spaces.
 * @param context the token's patient (principal.patient), used when the query names none
 */
export function parseTimelineQuery(params: URLSearchParams, context: PatientRef | undefined): TimelineRequest {
  const unknown = [...new Set(params.keys())].filter((k) => !PARAMETERS.includes(k));
  if (unknown.length) throw invalid(`unknown parameter(s) ${unknown.join(', ')}; allowed: ${PARAMETERS.join(', ')}`);
  const one = (name: string): string | undefined => {
    const values = params.getAll(name);
    if (values.length > 1) throw invalid(`${name} is given more than once`);
    return values[0];
  };
  const patient = one('patient');
  const issuer = one('issuer');
  if (patient === undefined) {
    if (issuer !== undefined) throw invalid('issuer is only used with patient');
    if (!context) throw invalid('patient (PatientID) is required: this token is not limited to one patient');
    return context.issuer === undefined ? { patientId: context.id } : { patientId: context.id, issuer: context.issuer };
  }
  if (issuer === undefined || issuer === '') {
    if (!isLongStringIdentifier(patient)) throw invalid('patient must be a PatientID: 1 to 64 characters without backslashes or control characters');
    return issuer === undefined ? { patientId: patient } : { patientId: patient, issuer: '' };
  }
  // A named issuer: the patient as POST /api/launch reads one (an NHS number is checked), refused
  // with the code every other query parameter fault carries.
  try {
    const ref = parsePatient(patient, issuer, { id: 'patient', issuer: 'issuer' });
    return { patientId: ref.id, issuer: ref.issuer };
  } catch (err) {
    throw isLucidaError(err) && err.code === 'BAD_REQUEST' ? invalid(err.message) : err;
  }
}

/**
 * True when a patient-context token asked for a patient other than its own: a 404 then hides another
 * patient's data and is audited as denied. (Without an issuer on either side, the PatientID decides.)
 */
export function outsideContext(request: TimelineRequest, context: PatientRef | undefined): boolean {
  if (!context) return false;
  if (request.patientId !== context.id) return true;
  return request.issuer !== undefined && context.issuer !== undefined && request.issuer !== context.issuer;
}
