/** Reading DICOM JSON (PS3.18 F.2) in tests. Light: no DICOM toolkit, no sharp. */
import type { DicomJson } from '../../services/core/dicom/json.types.js';

/** First value of an attribute in DICOM JSON (`tag` as 8 hex digits); undefined when absent or empty. */
export const jsonValue = (metadata: DicomJson, tag: string): unknown => (metadata[tag] as { Value?: unknown[] } | undefined)?.Value?.[0];
