/** Absolute DICOMweb URLs for RetrieveURL and BulkDataURI values (PS3.18 §10.5.3, F.2.6). */
export interface DicomwebUrls {
  root: string;
  study(study: string): string;
  series(study: string, series: string): string;
  instance(study: string, series: string, sop: string): string;
}

export function dicomwebUrls(publicBaseUrl: string): DicomwebUrls {
  const root = `${publicBaseUrl}/dicomweb`;
  return {
    root,
    study: (st) => `${root}/studies/${st}`,
    series: (st, se) => `${root}/studies/${st}/series/${se}`,
    instance: (st, se, sop) => `${root}/studies/${st}/series/${se}/instances/${sop}`,
  };
}
