/** Shape checks on parsed JSON, shared by both capture parsers (capture API metadata, DICOM JSON). */

/** True for a JSON object (not null, not an array). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
