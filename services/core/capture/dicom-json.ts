/**
 * STOW-RS "metadata and bulk data" (PS3.18 §10.5): a client sends a VL Photographic Image as DICOM
 * JSON (PS3.18 Annex F) whose Pixel Data is a BulkDataURI naming a JPEG/PNG/TIFF/HEIC part of the same
 * request. This module maps that data set to the same normalised CaptureContext and ImageContext the
 * capture API produces, with the same rules (NHS number check digit, supported codes, consent
 * required), so both ways in yield equivalent instances (context-dataset.ts).
 *
 * Error paths are JSON pointers into the data set ("/00100020", "/00082218/0/00080100"); messages are
 * short (most under 64 characters, to fit an Error Comment) and never quote patient data.
 */
import { isDicomDate } from '../dicom/index.js';
import type { DicomJson, DicomJsonAttribute } from '../dicom/json.types.js';
import { SOP_CLASS } from '../dicom/sop-classes.js';
import { isValidUid } from '../dicom/uids.js';
import { isImageLaterality, lateralityFromCode, type ImageLaterality } from './codes.js';
import { latestDateNow } from './dates.js';
import { FORBIDDEN_IN_LO, FORBIDDEN_IN_LT, MAX_VALUE_LENGTH } from './dicom-text.js';
import { isObject } from './json-shape.js';
import { resolveImageContext } from './image-context.js';
import { NHS_NUMBER_ISSUER_OID, isValidNhsNumber, normalizeNhsNumber } from './nhs-number.js';
import { personNameProblem, tidyPersonName } from './person-name.js';
import type { CaptureContext, ConsentInput, ConsentLevel, ImageContext, InstanceIds, PatientDemographics } from './types.js';
import { ValidationErrors } from './validation-errors.js';

/** Tags read here (PS3.6), by keyword. */
const T = {
  SpecificCharacterSet: '00080005',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  AccessionNumber: '00080050',
  InstitutionName: '00080080',
  ReferringPhysicianName: '00080090',
  CodeValue: '00080100',
  CodingSchemeDesignator: '00080102',
  CodeMeaning: '00080104',
  StationName: '00081010',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  InstitutionalDepartmentName: '00081040',
  OperatorsName: '00081070',
  AnatomicRegionSequence: '00082218',
  AnatomicRegionModifierSequence: '00082220',
  PatientName: '00100010',
  PatientID: '00100020',
  IssuerOfPatientID: '00100021',
  IssuerOfPatientIDQualifiersSequence: '00100024',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  OtherPatientIDsSequence: '00101002',
  DistributionType: '00120084',
  ConsentForClinicalTrialUseSequence: '00120083',
  ConsentForDistributionFlag: '00120085',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  Laterality: '00200060',
  ImageLaterality: '00200062',
  ImageComments: '00204000',
  RecognizableVisualFeatures: '00280302',
  UniversalEntityID: '00400032',
  ViewCodeSequence: '00540220',
  PixelData: '7FE00010',
} as const;

/**
 * Most items read from one sequence. A photograph's sequences hold a handful (codes, other patient
 * IDs, consent); a longer one is refused whole, so a hostile array costs one error, not one per item.
 */
export const MAX_SEQUENCE_ITEMS = 64;

const KEYWORD_BY_TAG = new Map<string, string>(Object.entries(T).map(([k, v]) => [v, k]));
/** Top-level attributes this module reads (or checks); anything else is reported as ignored. */
const READ = new Set<string>(Object.values(T));

export type PhotoInstanceIds = Partial<Pick<InstanceIds,
  'studyInstanceUID' | 'seriesInstanceUID' | 'sopInstanceUID' | 'seriesNumber' | 'instanceNumber'>>;

export interface ParsedPhotoDicomJson {
  context: CaptureContext;
  image: ImageContext;
  /** UIDs and numbers the sender chose; the capture service assigns the others. */
  ids: PhotoInstanceIds;
  /** The Pixel Data BulkDataURI, as sent: names the image part of the request. */
  pixelDataBulkDataURI: string;
  /** Other top-level attributes sent as bulk data (not used in the instance). */
  otherBulkData: { tag: string; uri: string }[];
  /**
   * Top-level attributes that were sent but are not carried into the instance (image-derived ones
   * such as Rows, Modality or dates come from the photo itself). The caller may warn (PS3.18 §10.5.3,
   * Warning Reason B000 "Coercion of Data Elements").
   */
  ignoredAttributes: string[];
}

/**
 * Maps a client's DICOM JSON data set of a VL Photographic Image to the normalised capture contexts.
 *
 * Consent comes from ConsentForClinicalTrialUseSequence (0012,0083), the most restrictive item wins:
 * ConsentForDistributionFlag NO or WITHDRAWN → `record` (clinical record only); YES with
 * DistributionType NAMED_PROTOCOL or RESTRICTED_REUSE → `teaching`; YES with PUBLIC_RELEASE →
 * `publication`. Absent → error, as in the capture API. `recordedBy` is OperatorsName, or '' for the
 * caller to fill in with the authenticated user.
 *
 * @throws LucidaError INVALID_METADATA with `extra.errors: { path, message }[]`, every problem found.
 */
export function parsePhotoDicomJson(ds: DicomJson, options: { now?: Date } = {}): ParsedPhotoDicomJson {
  const now = options.now ?? new Date();
  const errors = new ValidationErrors();
  const r = new Reader(ds, '', errors);

  const sopClass = r.text(T.SOPClassUID);
  if (sopClass !== undefined && sopClass !== SOP_CLASS.VLPhotographicImage) {
    errors.add(`/${T.SOPClassUID}`, 'SOPClassUID must be VL Photographic Image Storage');
  }
  const pixel = ds[T.PixelData];
  const pixelDataBulkDataURI = isObject(pixel) && typeof pixel.BulkDataURI === 'string' && pixel.BulkDataURI ? pixel.BulkDataURI : undefined;
  if (!pixelDataBulkDataURI) errors.add(`/${T.PixelData}`, 'PixelData must be a BulkDataURI');

  const patient = readPatient(r, now, errors);
  const ids = readIds(r);
  const consent = readConsent(r, errors);
  const image = readImage(r, errors);
  const study: CaptureContext['study'] = {};
  if (ids.studyInstanceUID) study.studyInstanceUID = ids.studyInstanceUID;
  assign(study, 'accessionNumber', r.text(T.AccessionNumber));
  assign(study, 'description', r.text(T.StudyDescription));
  assign(study, 'referringPhysicianName', r.personName(T.ReferringPhysicianName));

  const photographer = r.personName(T.OperatorsName, true);
  const context: Partial<CaptureContext> = { study };
  assign(context, 'photographer', photographer);
  assign(context, 'institutionName', r.text(T.InstitutionName));
  assign(context, 'stationName', r.text(T.StationName));
  assign(context, 'departmentName', r.text(T.InstitutionalDepartmentName));
  assign(context, 'clinicalNote', r.longText(T.ImageComments));
  errors.throwIfAny();

  return {
    context: { ...context, patient: patient!, study, consent: { ...consent!, recordedBy: photographer ?? '' } } as CaptureContext,
    image: image!,
    ids,
    pixelDataBulkDataURI: pixelDataBulkDataURI!,
    otherBulkData: Object.entries(ds)
      .filter(([tag, a]) => tag !== T.PixelData && isObject(a) && typeof a.BulkDataURI === 'string')
      .map(([tag, a]) => ({ tag, uri: a.BulkDataURI! })),
    ignoredAttributes: Object.keys(ds).filter((tag) => !READ.has(tag.toUpperCase())),
  };
}

function assign<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

/** Reads typed values out of one (possibly nested) DICOM JSON data set, reporting malformed ones. */
class Reader {
  constructor(readonly ds: DicomJson, readonly base: string, readonly errors: ValidationErrors) {}

  path(tag: string): string {
    return `${this.base}/${tag}`;
  }

  name(tag: string): string {
    return KEYWORD_BY_TAG.get(tag) ?? tag;
  }

  /** The Value array, or undefined when absent or empty. */
  private values(tag: string): unknown[] | undefined {
    const a: DicomJsonAttribute | undefined = this.ds[tag];
    if (a === undefined || a === null) return undefined;
    if (!isObject(a)) {
      this.errors.add(this.path(tag), `${this.name(tag)} is not a DICOM JSON attribute`);
      return undefined;
    }
    if (a.Value === undefined || a.Value === null) return undefined;
    if (!Array.isArray(a.Value)) {
      this.errors.add(this.path(tag), `${this.name(tag)}: Value must be an array`);
      return undefined;
    }
    return a.Value.length ? a.Value : undefined;
  }

  /**
   * The attribute's length limit (MAX_VALUE_LENGTH). Looked up before its value is, so a keyword
   * missing from the table fails every parse, absent attribute or not, instead of one rare request.
   */
  private maxLength(tag: string): number {
    const max = MAX_VALUE_LENGTH[this.name(tag)];
    if (max === undefined) throw new Error(`no length limit for ${this.name(tag)}`);
    return max;
  }

  /** First value of a single-valued string attribute, trimmed; undefined when absent or empty. */
  text(tag: string): string | undefined {
    const maxLength = this.maxLength(tag);
    const v = this.values(tag);
    if (!v) return undefined;
    if (v.length > 1) this.errors.add(this.path(tag), `${this.name(tag)} must have one value`);
    if (v[0] === null) return undefined;
    if (typeof v[0] !== 'string') {
      this.errors.add(this.path(tag), `${this.name(tag)} must be a string`);
      return undefined;
    }
    const s = v[0].trim();
    if (s.length > maxLength) this.errors.add(this.path(tag), `${this.name(tag)} is longer than ${maxLength} characters`);
    else if (FORBIDDEN_IN_LO.test(s)) this.errors.add(this.path(tag), `${this.name(tag)} has a backslash or control characters`);
    return s || undefined;
  }

  /** LT/UT text: trailing spaces dropped, line breaks allowed. */
  longText(tag: string): string | undefined {
    const maxLength = this.maxLength(tag);
    const v = this.values(tag);
    if (!v || v[0] === null) return undefined;
    if (typeof v[0] !== 'string') {
      this.errors.add(this.path(tag), `${this.name(tag)} must be a string`);
      return undefined;
    }
    const s = v[0].trimEnd();
    if (s.length > maxLength) this.errors.add(this.path(tag), `${this.name(tag)} is longer than ${maxLength} characters`);
    else if (FORBIDDEN_IN_LT.test(s)) this.errors.add(this.path(tag), `${this.name(tag)} has control characters`);
    return s || undefined;
  }

  /** Alphabetic group of a PN value (PS3.18 F.2.2), tidied; `multi` takes the first of several. */
  personName(tag: string, multi = false): string | undefined {
    const v = this.values(tag);
    if (!v) return undefined;
    if (v.length > 1 && !multi) this.errors.add(this.path(tag), `${this.name(tag)} must have one value`);
    const first = v[0];
    if (first === null) return undefined;
    const alphabetic = isObject(first) ? first.Alphabetic : first;
    if (alphabetic === undefined) return undefined;
    if (typeof alphabetic !== 'string') {
      this.errors.add(this.path(tag), `${this.name(tag)} must be a PN object or string`);
      return undefined;
    }
    const pn = tidyPersonName(alphabetic);
    const problem = personNameProblem(pn);
    if (problem) this.errors.add(this.path(tag), `${this.name(tag)} ${problem}`);
    return pn || undefined;
  }

  /** An integer (IS) value, given as a JSON number or a numeric string. */
  integer(tag: string): number | undefined {
    const v = this.values(tag);
    if (!v || v[0] === null) return undefined;
    const n = typeof v[0] === 'string' && /^\s*[+-]?\d+\s*$/.test(v[0]) ? Number(v[0]) : v[0];
    if (typeof n !== 'number' || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) {
      this.errors.add(this.path(tag), `${this.name(tag)} must be an integer`);
      return undefined;
    }
    return n;
  }

  /** A UID value, checked (PS3.5 §9.1). */
  uid(tag: string): string | undefined {
    const s = this.text(tag);
    if (s !== undefined && !isValidUid(s)) {
      this.errors.add(this.path(tag), `${this.name(tag)} is not a valid UID`);
      return undefined;
    }
    return s;
  }

  /** Readers of the items of a sequence. */
  items(tag: string): Reader[] {
    const v = this.values(tag);
    if (!v) return [];
    if (v.length > MAX_SEQUENCE_ITEMS) {
      this.errors.add(this.path(tag), `${this.name(tag)} has more than ${MAX_SEQUENCE_ITEMS} items`);
      return [];
    }
    return v.flatMap((item, i) => {
      if (!isObject(item)) {
        this.errors.add(`${this.path(tag)}/${i}`, `${this.name(tag)} item ${i} is not a data set`);
        return [];
      }
      return [new Reader(item as DicomJson, `${this.path(tag)}/${i}`, this.errors)];
    });
  }

  /** The coded concept of a Code Sequence Macro item (PS3.3 Table 8.8-1a). */
  code(): { code: string; scheme: string } | undefined {
    const code = this.text(T.CodeValue);
    const scheme = this.text(T.CodingSchemeDesignator);
    if (!code || !scheme) {
      this.errors.add(this.base, 'code item needs CodeValue and CodingSchemeDesignator');
      return undefined;
    }
    return { code, scheme };
  }
}

interface PatientIdentifier { id: string; issuer?: string; nhs: boolean; path: string }

function identifier(r: Reader): PatientIdentifier | undefined {
  const id = r.text(T.PatientID);
  if (!id) return undefined;
  const issuer = r.text(T.IssuerOfPatientID);
  const entity = r.items(T.IssuerOfPatientIDQualifiersSequence)[0]?.text(T.UniversalEntityID);
  return { id, issuer, nhs: issuer?.toUpperCase() === 'NHS' || entity === NHS_NUMBER_ISSUER_OID, path: r.path(T.PatientID) };
}

/**
 * PatientID and OtherPatientIDsSequence, normalised the way the capture API does it: an NHS number
 * (issuer NHS, or the NHS OID as Universal Entity ID) becomes PatientID wherever it was sent, and the
 * local numbers become the other IDs.
 */
function readPatient(r: Reader, now: Date, errors: ValidationErrors): PatientDemographics | undefined {
  const ids = [identifier(r), ...r.items(T.OtherPatientIDsSequence).map(identifier)].filter((x): x is PatientIdentifier => !!x);
  if (ids.length === 0) errors.add(`/${T.PatientID}`, 'PatientID is required');

  const nhsNumbers = new Set<string>();
  const local: { id: string; issuer: string }[] = [];
  for (const id of ids) {
    if (id.nhs) {
      const digits = normalizeNhsNumber(id.id);
      if (isValidNhsNumber(digits)) nhsNumbers.add(digits);
      else errors.add(id.path, 'PatientID fails the NHS number check digit');
    } else if (!id.issuer) {
      errors.add(id.path, 'a local PatientID needs IssuerOfPatientID');
    } else if (!local.some((l) => l.id === id.id && l.issuer === id.issuer)) {
      local.push({ id: id.id, issuer: id.issuer });
    }
  }
  if (nhsNumbers.size > 1) errors.add(`/${T.OtherPatientIDsSequence}`, 'the data set has two different NHS numbers');

  const name = r.personName(T.PatientName) ?? '';
  let birthDate = r.text(T.PatientBirthDate) ?? '';
  if (birthDate && !isDicomDate(birthDate)) {
    errors.add(r.path(T.PatientBirthDate), 'PatientBirthDate must be a date, YYYYMMDD');
    birthDate = '';
  } else if (birthDate > latestDateNow(now)) {
    errors.add(r.path(T.PatientBirthDate), 'PatientBirthDate is in the future');
  }
  const sexValue = r.text(T.PatientSex) ?? '';
  if (!['', 'M', 'F', 'O'].includes(sexValue)) errors.add(r.path(T.PatientSex), 'PatientSex must be M, F, O or empty');
  const sex = sexValue as PatientDemographics['sex'];

  const [nhsNumber] = nhsNumbers;
  if (nhsNumber) return { patientId: nhsNumber, issuer: 'NHS', nhsNumber, otherIds: local, name, birthDate, sex };
  if (local.length) {
    const [first, ...rest] = local;
    return { patientId: first.id, issuer: first.issuer, otherIds: rest, name, birthDate, sex };
  }
  return undefined;
}

function readIds(r: Reader): PhotoInstanceIds {
  const ids: PhotoInstanceIds = {};
  assign(ids, 'studyInstanceUID', r.uid(T.StudyInstanceUID));
  assign(ids, 'seriesInstanceUID', r.uid(T.SeriesInstanceUID));
  assign(ids, 'sopInstanceUID', r.uid(T.SOPInstanceUID));
  assign(ids, 'seriesNumber', r.integer(T.SeriesNumber));
  assign(ids, 'instanceNumber', r.integer(T.InstanceNumber));
  return ids;
}

const LEVEL_ORDER: readonly ConsentLevel[] = ['record', 'teaching', 'publication'];

function readConsent(r: Reader, errors: ValidationErrors): Omit<ConsentInput, 'recordedBy'> | undefined {
  const items = r.items(T.ConsentForClinicalTrialUseSequence);
  if (items.length === 0) {
    errors.add(`/${T.ConsentForClinicalTrialUseSequence}`, 'consent is required (ConsentForClinicalTrialUseSequence)');
    return undefined;
  }
  let level: ConsentLevel | undefined;
  for (const item of items) {
    const flag = item.text(T.ConsentForDistributionFlag);
    const type = item.text(T.DistributionType);
    let itemLevel: ConsentLevel | undefined;
    if (flag === 'NO' || flag === 'WITHDRAWN') itemLevel = 'record';
    else if (flag === 'YES' && (type === 'NAMED_PROTOCOL' || type === 'RESTRICTED_REUSE')) itemLevel = 'teaching';
    else if (flag === 'YES' && type === 'PUBLIC_RELEASE') itemLevel = 'publication';
    else if (flag === 'YES') errors.add(item.path(T.DistributionType), 'DistributionType must be NAMED_PROTOCOL, RESTRICTED_REUSE or PUBLIC_RELEASE');
    else errors.add(item.path(T.ConsentForDistributionFlag), 'ConsentForDistributionFlag must be YES, NO or WITHDRAWN');
    if (itemLevel && (!level || LEVEL_ORDER.indexOf(itemLevel) < LEVEL_ORDER.indexOf(level))) level = itemLevel;
  }
  return level ? { level } : undefined;
}

function readImage(r: Reader, errors: ValidationErrors): ImageContext | undefined {
  const region = r.items(T.AnatomicRegionSequence)[0];
  const site = region?.code();
  const modifiers = region ? region.items(T.AnatomicRegionModifierSequence) : [];
  const modifierSide = modifiers.map((m) => {
    const c = m.text(T.CodeValue);
    const s = m.text(T.CodingSchemeDesignator);
    return c && s ? lateralityFromCode(c, s) : undefined;
  }).find(Boolean);

  const imageLaterality = r.text(T.ImageLaterality);
  const seriesLaterality = r.text(T.Laterality);
  let laterality: ImageLaterality | undefined;
  if (imageLaterality !== undefined) {
    if (isImageLaterality(imageLaterality)) laterality = imageLaterality;
    else errors.add(r.path(T.ImageLaterality), 'ImageLaterality must be R, L, B or U');
  } else if (seriesLaterality !== undefined) {
    if (seriesLaterality === 'R' || seriesLaterality === 'L') laterality = seriesLaterality;
    else errors.add(r.path(T.Laterality), 'Laterality must be R or L');
  } else if (modifierSide) {
    laterality = modifierSide;
  } else {
    errors.add(`/${T.ImageLaterality}`, 'ImageLaterality is required (R, L, B or U)');
  }
  if (laterality && modifierSide && modifierSide !== laterality) {
    errors.add(`/${T.AnatomicRegionSequence}/0/${T.AnatomicRegionModifierSequence}`, 'laterality modifier contradicts ImageLaterality');
  }

  const view = r.items(T.ViewCodeSequence)[0]?.code();
  const features = r.text(T.RecognizableVisualFeatures);
  if (features !== undefined && features !== 'YES' && features !== 'NO') {
    errors.add(r.path(T.RecognizableVisualFeatures), 'RecognizableVisualFeatures must be YES or NO');
  }
  // Codes are checked even when laterality is missing, so every problem is reported at once.
  const image = resolveImageContext({
    site,
    laterality: laterality ?? 'U',
    view,
    seriesDescription: r.text(T.SeriesDescription),
    recognizableVisualFeatures: features === 'YES',
  }, {
    site: { path: `/${T.AnatomicRegionSequence}/0/${T.CodeValue}`, name: 'AnatomicRegionSequence' },
    view: { path: `/${T.ViewCodeSequence}/0/${T.CodeValue}`, name: 'ViewCodeSequence' },
  }, errors);
  return laterality ? image : undefined;
}
