/**
 * Part 10 → {@link ParsedInstance}: the validated identity of an instance plus its data set as DICOM
 * JSON (PS3.18 F.2). This is the single entry point STOW-RS, the photo converter and C-STORE use to
 * decide whether bytes are an instance Lucida will store.
 *
 * Parser choice, by measurement (465 KB JPEG VL Photographic Image from makeBenchPhoto, Node 20, one
 * core of the 2-core dev machine, CPU time per file after warm-up):
 *   Lucida reader.ts + DICOM JSON (parsePart10)   ≈ 30–40 µs   (reader alone ≈ 6 µs)
 *   dicom-parser 1.8.21 parseDicom, no JSON       ≈ 25 µs
 *   dcmjs 0.52.2 DicomMessage.readFile, no JSON   ≈ 350–450 µs (+ naturalizeDataset ≈ 420–500 µs)
 * Under jest's VM sandbox everything runs 2–4× slower (parse.test.ts bounds it at 500 µs).
 * dicom-parser was rejected for correctness, not speed (see reader.ts), and is not a dependency;
 * dcmjs only writes.
 */
import { LucidaError } from '../errors.js';
import type { DicomJson } from './json.types.js';
import { dataSetToJson, type DicomJsonOptions } from './dicom-json.js';
import { readAscii, readPart10, type Part10File, type ReadOptions } from './reader.js';
import { isValidUid } from './uids.js';

export interface ParsedInstance {
  /** Transfer Syntax UID (0002,0010) of the file as received. */
  transferSyntaxUID: string;
  sopClassUID: string;
  sopInstanceUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  /** The data set (no group 0002) as DICOM JSON; bulk data as relative BulkDataURIs (see dicom-json.ts). */
  metadata: DicomJson;
  /** Tolerated irregularities, for logs and STOW warning reasons; never patient data. */
  warnings: string[];
}

export type ParseOptions = DicomJsonOptions & ReadOptions;

const REQUIRED_UIDS = [
  ['SOPClassUID', 0x00080016, '(0008,0016)'],
  ['SOPInstanceUID', 0x00080018, '(0008,0018)'],
  ['StudyInstanceUID', 0x0020000d, '(0020,000D)'],
  ['SeriesInstanceUID', 0x0020000e, '(0020,000E)'],
] as const;

/**
 * Parses and validates a DICOM Part 10 file (PS3.10 §7) in any transfer syntax.
 * @throws LucidaError INVALID_DICOM with a reason naming the problem (and the attribute, if one is at
 *   fault) when the bytes are not Part 10, are truncated or malformed, lack SOP Class/SOP Instance/
 *   Study Instance/Series Instance UID, carry an invalid UID or one of those with another VR than UI, or when Media Storage SOP Instance UID
 *   (0002,0003) differs from SOP Instance UID (PS3.10 §7.1 requires them equal).
 */
export function parsePart10(bytes: Uint8Array, options: ParseOptions = {}): ParsedInstance {
  try {
    return parseUnchecked(bytes, options);
  } catch (e) {
    if (e instanceof LucidaError) throw e;
    throw new LucidaError('INVALID_DICOM', `unreadable DICOM file: ${(e as Error)?.message ?? String(e)}`);
  }
}

function parseUnchecked(bytes: Uint8Array, options: ParseOptions): ParsedInstance {
  const file = readChecked(bytes, options);
  const warnings: string[] = [];
  const { meta, dataset } = file;
  const ids = {} as Record<(typeof REQUIRED_UIDS)[number][0], string>;
  for (const [keyword, tag, label] of REQUIRED_UIDS) {
    const el = dataset.elements.get(tag);
    if (el?.items) throw new LucidaError('INVALID_DICOM', `${keyword} ${label} is a sequence`);
    // Another VR would be indexed as something else than the UID read here (e.g. FL numbers).
    if (el && el.vr !== 'UI') throw new LucidaError('INVALID_DICOM', `${keyword} ${label} has VR ${el.vr}, not UI`);
    const value = readAscii(file.bytes, el);
    if (!value) throw new LucidaError('INVALID_DICOM', `missing ${keyword} ${label}`);
    if (!isValidUid(value)) throw new LucidaError('INVALID_DICOM', `invalid ${keyword} ${label}: "${clip(value)}"`);
    ids[keyword] = value;
  }
  if (!isValidUid(file.transferSyntaxUID)) {
    throw new LucidaError('INVALID_DICOM', `invalid TransferSyntaxUID (0002,0010): "${clip(file.transferSyntaxUID)}"`);
  }
  const mediaInstance = readAscii(file.bytes, meta.elements.get(0x00020003));
  if (mediaInstance === undefined) {
    warnings.push('file meta information lacks MediaStorageSOPInstanceUID (0002,0003)');
  } else if (mediaInstance !== ids.SOPInstanceUID) {
    throw new LucidaError(
      'INVALID_DICOM',
      'MediaStorageSOPInstanceUID (0002,0003) differs from SOPInstanceUID (0008,0018)',
    );
  }
  const mediaClass = readAscii(file.bytes, meta.elements.get(0x00020002));
  if (mediaClass !== undefined && mediaClass !== ids.SOPClassUID) {
    warnings.push('MediaStorageSOPClassUID (0002,0002) differs from SOPClassUID (0008,0016); SOPClassUID used');
  }
  const metadata = dataSetToJson(dataset, file.bytes, options, warnings);
  return {
    transferSyntaxUID: file.transferSyntaxUID,
    sopClassUID: ids.SOPClassUID,
    sopInstanceUID: ids.SOPInstanceUID,
    studyInstanceUID: ids.StudyInstanceUID,
    seriesInstanceUID: ids.SeriesInstanceUID,
    metadata,
    warnings: [...new Set(warnings)],
  };
}

/** {@link readPart10} with every failure, including unexpected ones, reported as INVALID_DICOM. */
export function readChecked(bytes: Uint8Array, options: ReadOptions = {}): Part10File {
  if (!ArrayBuffer.isView(bytes)) throw new LucidaError('INVALID_DICOM', 'no bytes');
  try {
    return readPart10(bytes, options);
  } catch (e) {
    if (e instanceof LucidaError) throw e;
    throw new LucidaError('INVALID_DICOM', `unreadable DICOM file: ${(e as Error)?.message ?? String(e)}`);
  }
}

function clip(s: string): string {
  const printable = s.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 70 ? `${printable.slice(0, 70)}…` : printable;
}

/** Accepts bytes or an already read file, so callers can read once and extract many times. */
export function asPart10File(source: Uint8Array | Part10File): Part10File {
  return ArrayBuffer.isView(source) ? readChecked(source) : source;
}
