/**
 * Turns what a client said about one image (site code, laterality, view, series description,
 * recognisable features) into the normalised ImageContext, the same way for the capture API and for
 * STOW-RS DICOM JSON: codes must be in the supported value sets and are replaced by the standard
 * concept (standard Code Meaning), and facial sites or views force Recognizable Visual Features YES.
 */
import { findAnatomicSite, findView, toCodedConcept, type ImageLaterality } from './codes.js';
import type { ImageContext } from './types.js';
import type { ValidationErrors } from './validation-errors.js';

export interface ImageInput {
  site?: { code: string; scheme: string };
  laterality: ImageLaterality;
  view?: { code: string; scheme: string };
  seriesDescription?: string;
  /** What the client said; facial sites and views raise it, nothing lowers it. */
  recognizableVisualFeatures?: boolean;
}

/** Where each input came from, for error paths, and what to call it in messages. */
export interface ImageInputLabels {
  site: { path: string; name: string };
  view: { path: string; name: string };
}

/** The ImageContext for `input`, or undefined after adding an error for each unsupported code. */
export function resolveImageContext(input: ImageInput, labels: ImageInputLabels, errors: ValidationErrors): ImageContext | undefined {
  let ok = true;
  const site = input.site && findAnatomicSite(input.site.code, input.site.scheme);
  if (input.site && !site) {
    errors.add(labels.site.path, `${labels.site.name}: ${input.site.code} (${input.site.scheme}) is not a supported site`);
    ok = false;
  }
  const view = input.view && findView(input.view.code, input.view.scheme);
  if (input.view && !view) {
    errors.add(labels.view.path, `${labels.view.name}: ${input.view.code} (${input.view.scheme}) is not a supported view`);
    ok = false;
  }
  if (!ok) return undefined;
  const image: ImageContext = {
    laterality: input.laterality,
    recognizableVisualFeatures: input.recognizableVisualFeatures === true || !!site?.facial || !!view?.facial,
  };
  if (site) image.bodySite = toCodedConcept(site);
  if (view) image.view = toCodedConcept(view);
  if (input.seriesDescription) image.seriesDescription = input.seriesDescription;
  return image;
}
