/**
 * Capture domain: what capture stations and STOW-RS clients say about their photographs, checked
 * and normalised (pure code: no HTTP, no SQL). The capture service and its port live beside it.
 * This barrel exports what the routes and the worker use; everything else is imported by its path.
 */
export { parseCaptureMetadata } from './metadata.js';
export { parsePhotoDicomJson } from './dicom-json.js';
export { photoContextDataset } from './context-dataset.js';
