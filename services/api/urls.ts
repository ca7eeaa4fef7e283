/**
 * The URLs the API hands out: DICOMweb RetrieveURL and BulkDataURI values (PS3.18 §10.5.3, F.2.6)
 * and capture status documents. Absolute, from PUBLIC_BASE_URL, except {@link capturePath}.
 */
export interface PublicUrls {
  /** The DICOMweb service root, `{base}/dicomweb`. */
  root: string;
  study(study: string): string;
  series(study: string, series: string): string;
  instance(study: string, series: string, sop: string): string;
  /** A capture's status document (the Location of POST /api/captures). */
  capture(id: string): string;
}

/** The path of a capture's status document, for where an absolute URL does not fit (a 64-character ErrorComment). */
export const capturePath = (id: string): string => `/api/captures/${id}`;

export function publicUrls(publicBaseUrl: string): PublicUrls {
  const root = `${publicBaseUrl}/dicomweb`;
  return {
    root,
    study: (st) => `${root}/studies/${st}`,
    series: (st, se) => `${root}/studies/${st}/series/${se}`,
    instance: (st, se, sop) => `${root}/studies/${st}/series/${se}/instances/${sop}`,
    capture: (id) => `${publicBaseUrl}${capturePath(id)}`,
  };
}
