/**
 * The capture API's metadata part (schemas/capture.schema.json) → normalised CaptureContext and one
 * ImageContext per group of files. JSON Schema checks the shape, types, lengths (per DICOM VR) and
 * unknown properties; this module adds what a schema cannot: the NHS number check digit, supported
 * codes, dates not in the future, "patient or an existing study", and that every uploaded file is in
 * exactly one group. All problems are reported together (LucidaError INVALID_METADATA, `extra.errors`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020Module, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { isValidNhsNumber, normalizeNhsNumber } from './nhs-number.js';
import { personNameFromParts, personNameProblem, tidyPersonName, PN_MAX_GROUP_LENGTH, type NameParts } from './person-name.js';
import { isoDateToDicom, latestDateNow } from './dates.js';
import { resolveImageContext } from './image-context.js';
import { ValidationErrors, fieldName } from './validation-errors.js';
import { isImageLaterality, type ImageLaterality } from './codes.js';
import { isObject } from './json-shape.js';
import type { CaptureContext, ConsentLevel, ImageContext, PatientDemographics } from './types.js';

/** A capture that names an existing study and no patient: the caller takes the patient from the study. */
export type CaptureContextWithoutPatient = Omit<CaptureContext, 'patient'> & { patient?: undefined };

export interface ParsedCapture {
  /**
   * With `patient` when the metadata identified the patient (then `study.studyInstanceUID` or
   * `study.accessionNumber`, if given, name a study whose stored patient must match it). Without
   * `patient` only when the study names an existing study: take the demographics from it.
   */
  context: CaptureContext | CaptureContextWithoutPatient;
  /** One per metadata group, in order: its image context and its files (upload names). */
  groups: { image: ImageContext; files: string[] }[];
}

/** True when the capture carries its own patient demographics. */
export function hasPatient(context: ParsedCapture['context']): context is CaptureContext {
  return context.patient !== undefined;
}

export interface ParseCaptureOptions {
  /** The time the capture was received (dates after it are "in the future"). Default: now. */
  now?: Date;
}

/** Allowed clock difference between capture station and server for consent.recordedAt. */
const CLOCK_SKEW_MS = 5 * 60_000;
/**
 * Hostile documents (a 1 MiB array of numbers where a name list belongs) must cost one error each,
 * not one per element: at most this many schema errors (and file name errors) are listed, and the
 * rules below skip a groups array longer than the schema allows (the schema reports that).
 */
export const MAX_LISTED_SCHEMA_ERRORS = 50;
const MAX_GROUPS = 100; // capture.schema.json groups.maxItems

// The shape the schema guarantees once validation passes.
interface CodeJson { code: string; scheme?: string; display?: string }
interface GroupJson {
  bodySite?: CodeJson; laterality: ImageLaterality; view?: CodeJson; seriesDescription?: string;
  recognizableVisualFeatures?: boolean; files?: string[];
}
interface CaptureJson {
  patient?: {
    nhsNumber?: string; hospitalNumber?: { value: string; issuer: string };
    name?: NameParts; birthDate?: string; sex?: 'M' | 'F' | 'O' | 'U';
  };
  study?: { studyInstanceUID?: string; accessionNumber?: string; description?: string; referringClinician?: string };
  consent: { level: ConsentLevel; recordedBy?: string; recordedAt?: string };
  photographer?: string;
  site?: { institution?: string; department?: string; studio?: string };
  clinicalNote?: string;
  groups: GroupJson[];
}

const SCHEMA_PATH = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../schemas/capture.schema.json');
let validator: ValidateFunction | undefined;

function schemaValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020Module.default({ allErrors: true, verbose: true, strict: true });
    addFormatsModule.default(ajv, ['date', 'date-time']);
    // Annotation used to word pattern failures; it validates nothing.
    ajv.addKeyword('patternMessage');
    validator = ajv.compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')));
  }
  return validator;
}

/**
 * Validates the capture API's metadata against schemas/capture.schema.json and the rules above and
 * returns the normalised context. `fileNames` are the names of the uploaded image parts.
 * @throws LucidaError INVALID_METADATA with `extra.errors: { path, message }[]`, every problem found.
 */
export function parseCaptureMetadata(json: unknown, fileNames: string[], options: ParseCaptureOptions = {}): ParsedCapture {
  const now = options.now ?? new Date();
  const errors = new ValidationErrors();
  const validate = schemaValidator();
  if (!validate(json)) {
    const found = validate.errors ?? [];
    for (const e of found.slice(0, MAX_LISTED_SCHEMA_ERRORS)) addSchemaError(errors, e);
    if (found.length > MAX_LISTED_SCHEMA_ERRORS) errors.add('', `${found.length - MAX_LISTED_SCHEMA_ERRORS} more problems are not listed`);
  }

  // The rules below look only at the parts that have the right shape, so a document with a schema
  // error still gets every other problem reported.
  const doc = isObject(json) ? (json as Partial<CaptureJson>) : {};
  const patient = checkPatient(doc, now, errors);
  checkStaffName(doc.photographer, '/photographer', errors);
  checkStaffName(doc.study?.referringClinician, '/study/referringClinician', errors);
  const recordedAt = checkConsentTime(doc, now, errors);
  const groups = Array.isArray(doc.groups) && doc.groups.length <= MAX_GROUPS ? doc.groups : undefined;
  const images = groups ? groups.map((g, i) => checkGroup(g, i, errors)) : [];
  const files = groups ? assignFiles(groups, fileNames, errors) : [];
  errors.throwIfAny();

  const valid = doc as CaptureJson;
  return {
    context: captureContext(valid, patient, recordedAt),
    groups: valid.groups.map((_, i) => ({ image: images[i]!, files: files[i] })),
  };
}

const isString = (v: unknown): v is string => typeof v === 'string';

/** A trimmed string, or undefined when absent or blank. */
function text(v: unknown): string | undefined {
  return isString(v) && v.trim() ? v.trim() : undefined;
}

function addSchemaError(errors: ValidationErrors, e: ErrorObject): void {
  const at = e.instancePath;
  const field = fieldName(at);
  switch (e.keyword) {
    case 'required': {
      const p = `${at}/${(e.params as { missingProperty: string }).missingProperty}`;
      return errors.add(p, `${fieldName(p)} is required`);
    }
    case 'additionalProperties': {
      const p = `${at}/${(e.params as { additionalProperty: string }).additionalProperty}`;
      return errors.add(p, `${fieldName(p)} is not a known property`);
    }
    case 'type':
      return errors.add(at, at ? `${field} must be ${article((e.params as { type: string }).type)}` : 'metadata must be a JSON object');
    case 'enum':
      return errors.add(at, `${field} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
    case 'maxLength':
      return errors.add(at, `${field} must be at most ${(e.params as { limit: number }).limit} characters`);
    case 'minLength':
      return errors.add(at, `${field} must not be empty`);
    case 'pattern': {
      const hint = (e.parentSchema as { patternMessage?: string } | undefined)?.patternMessage;
      return errors.add(at, `${field} ${hint ?? 'contains characters that are not allowed'}`);
    }
    case 'format':
      return errors.add(at, (e.params as { format: string }).format === 'date'
        ? `${field} must be a date, YYYY-MM-DD`
        : `${field} must be a date and time with a UTC offset (RFC 3339)`);
    case 'minItems':
      return errors.add(at, `${field} must have at least ${(e.params as { limit: number }).limit} item(s)`);
    case 'maxItems':
      return errors.add(at, `${field} must have at most ${(e.params as { limit: number }).limit} items`);
    case 'uniqueItems':
      return errors.add(at, `${field} lists the same file twice`);
    default:
      return errors.add(at, `${field} ${e.message ?? 'is invalid'}`);
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function checkPatient(doc: Partial<CaptureJson>, now: Date, errors: ValidationErrors): PatientDemographics | undefined {
  const p = doc.patient;
  if (p === undefined) {
    const study = isObject(doc.study) ? doc.study : {};
    if (!text(study.studyInstanceUID) && !text(study.accessionNumber)) {
      errors.add('/patient', 'patient is required unless study names an existing study (studyInstanceUID or accessionNumber)');
    }
    return undefined;
  }
  if (!isObject(p)) return undefined;

  let nhsNumber: string | undefined;
  if (isString(p.nhsNumber)) {
    const digits = normalizeNhsNumber(p.nhsNumber);
    if (!/^[0-9]{10}$/.test(digits)) errors.add('/patient/nhsNumber', 'patient.nhsNumber must be 10 digits');
    else if (!isValidNhsNumber(digits)) errors.add('/patient/nhsNumber', 'patient.nhsNumber fails the NHS number check digit');
    else nhsNumber = digits;
  }
  const hospital = isObject(p.hospitalNumber) && text(p.hospitalNumber.value) && text(p.hospitalNumber.issuer)
    ? { id: text(p.hospitalNumber.value)!, issuer: text(p.hospitalNumber.issuer)! }
    : undefined;
  if (hospital?.issuer.toUpperCase() === 'NHS') {
    errors.add('/patient/hospitalNumber/issuer', 'patient.hospitalNumber.issuer must not be NHS: send NHS numbers as patient.nhsNumber');
  }
  if (p.nhsNumber === undefined && p.hospitalNumber === undefined) {
    errors.add('/patient', 'patient needs nhsNumber or hospitalNumber');
  }

  let name = '';
  if (isObject(p.name) && isString(p.name.family)) {
    // Only the well-shaped parts: a given name or prefix of another type is a schema error already.
    const { family, given, prefix, suffix } = p.name;
    name = personNameFromParts({
      family, given: Array.isArray(given) ? given.filter(isString) : undefined,
      prefix: isString(prefix) ? prefix : undefined, suffix: isString(suffix) ? suffix : undefined,
    });
    if (name.length > PN_MAX_GROUP_LENGTH) {
      errors.add('/patient/name', `patient.name is longer than ${PN_MAX_GROUP_LENGTH} characters as a DICOM name`);
    }
  }

  let birthDate = '';
  if (isString(p.birthDate)) {
    const da = isoDateToDicom(p.birthDate);
    if (da && da > latestDateNow(now)) errors.add('/patient/birthDate', 'patient.birthDate is in the future');
    birthDate = da ?? '';
  }

  const sex = p.sex === 'M' || p.sex === 'F' || p.sex === 'O' ? p.sex : '';
  if (nhsNumber) {
    return { patientId: nhsNumber, issuer: 'NHS', nhsNumber, otherIds: hospital ? [hospital] : [], name, birthDate, sex };
  }
  if (hospital) return { patientId: hospital.id, issuer: hospital.issuer, otherIds: [], name, birthDate, sex };
  return undefined;
}

function checkStaffName(value: unknown, pointer: string, errors: ValidationErrors): void {
  if (!isString(value)) return;
  const problem = personNameProblem(tidyPersonName(value));
  // Length and characters are already reported by the schema; the component count is not.
  if (problem?.startsWith('has more')) errors.add(pointer, `${fieldName(pointer)} ${problem}`);
}

function checkConsentTime(doc: Partial<CaptureJson>, now: Date, errors: ValidationErrors): Date | undefined {
  const at = isObject(doc.consent) && isString(doc.consent.recordedAt) ? new Date(doc.consent.recordedAt) : undefined;
  if (!at || Number.isNaN(at.getTime())) return undefined;
  if (at.getTime() > now.getTime() + CLOCK_SKEW_MS) errors.add('/consent/recordedAt', 'consent.recordedAt is in the future');
  return at;
}

function checkGroup(g: unknown, i: number, errors: ValidationErrors): ImageContext | undefined {
  if (!isObject(g)) return undefined;
  const group = g as Partial<GroupJson>;
  // A code with a malformed scheme is the schema's to report.
  const code = (c: CodeJson | undefined) => {
    const scheme = isObject(c) ? c.scheme ?? 'SCT' : undefined;
    return isObject(c) && isString(c.code) && (scheme === 'SCT' || scheme === 'FMA' || scheme === 'DCM')
      ? { code: c.code.trim(), scheme }
      : undefined;
  };
  // A missing or wrong laterality is the schema's to report; the codes are still checked.
  const laterality = isImageLaterality(group.laterality) ? group.laterality : 'U';
  return resolveImageContext({
    site: code(group.bodySite),
    laterality,
    view: code(group.view),
    seriesDescription: text(group.seriesDescription),
    recognizableVisualFeatures: group.recognizableVisualFeatures,
  }, {
    site: { path: `/groups/${i}/bodySite/code`, name: `groups[${i}].bodySite` },
    view: { path: `/groups/${i}/view/code`, name: `groups[${i}].view` },
  }, errors);
}

/**
 * Which uploaded files go in which group. Every uploaded name must be in exactly one group and every
 * listed name must have been uploaded; a single group without `files` takes every file. File names
 * are the client's own and are quoted so the photographer can find the file.
 */
function assignFiles(groups: unknown[], fileNames: string[], errors: ValidationErrors): string[][] {
  const uploaded = new Set<string>();
  for (const name of fileNames) {
    if (uploaded.has(name)) errors.add('', `file ${name} was uploaded more than once`);
    uploaded.add(name);
  }
  if (groups.length === 0) return []; // reported by the schema
  if (uploaded.size === 0) {
    errors.add('', 'no image files were uploaded');
    return groups.map(() => []);
  }
  const listed = groups.map((g) => (isObject(g) && Array.isArray(g.files) ? g.files.filter(isString) : undefined));
  if (groups.length === 1 && listed[0] === undefined) return [[...uploaded]];

  // One error per listed name, but only so many: thousands of bogus names must not cost thousands of errors.
  let unlisted = 0;
  const report = (p: string, message: string) => {
    if (errors.list.length < MAX_LISTED_SCHEMA_ERRORS) errors.add(p, message);
    else unlisted++;
  };
  const owner = new Map<string, number>();
  const assigned = listed.map((files, i) => {
    if (files === undefined) {
      if (isObject(groups[i])) errors.add(`/groups/${i}/files`, `groups[${i}].files is required when there are several groups`);
      return [];
    }
    return files.filter((name, j) => {
      const p = `/groups/${i}/files/${j}`;
      if (!uploaded.has(name)) {
        report(p, `file ${name} was not uploaded`);
        return false;
      }
      const first = owner.get(name);
      if (first !== undefined) {
        if (first !== i) report(p, `file ${name} is already in groups[${first}]`);
        return false;
      }
      owner.set(name, i);
      return true;
    });
  });
  for (const name of uploaded) {
    if (!owner.has(name)) errors.add('/groups', `file ${name} is not in any group`);
  }
  if (unlisted) errors.add('/groups', `${unlisted} more problems with file names are not listed`);
  return assigned;
}

function captureContext(doc: CaptureJson, patient: PatientDemographics | undefined, recordedAt: Date | undefined): ParsedCapture['context'] {
  const study: CaptureContext['study'] = {};
  const s = doc.study ?? {};
  if (text(s.studyInstanceUID)) study.studyInstanceUID = text(s.studyInstanceUID);
  if (text(s.accessionNumber)) study.accessionNumber = text(s.accessionNumber);
  if (text(s.description)) study.description = text(s.description);
  if (text(s.referringClinician)) study.referringPhysicianName = tidyPersonName(s.referringClinician!);

  const consent: CaptureContext['consent'] = { level: doc.consent.level, recordedBy: text(doc.consent.recordedBy) ?? '' };
  if (recordedAt) consent.recordedAt = recordedAt;

  const context: CaptureContextWithoutPatient = { study, consent };
  if (text(doc.photographer)) context.photographer = tidyPersonName(doc.photographer!);
  if (text(doc.site?.institution)) context.institutionName = text(doc.site?.institution);
  if (text(doc.site?.studio)) context.stationName = text(doc.site?.studio);
  if (text(doc.site?.department)) context.departmentName = text(doc.site?.department);
  const note = doc.clinicalNote?.trimEnd();
  if (note) context.clinicalNote = note;
  return patient ? { ...context, patient } : context;
}
