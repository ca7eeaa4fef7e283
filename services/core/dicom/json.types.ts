/** DICOM JSON model (PS3.18 Annex F.2). Keys are 8 upper-case hex digit tags. */
export interface DicomJsonAttribute {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJson = Record<string, DicomJsonAttribute>;
