/** Content negotiation shared by the DICOMweb routes (PS3.18 §8.7). */
import type { Request } from 'express';
import { LucidaError } from '../../core/errors.js';
import { mediaRangeMatches, parseAccept, type MediaRange, type MediaType } from './media-type.js';

/** Picks the first acceptable media range (by q) for which `canServe` holds; 406 when none. */
export function negotiate<T>(ranges: MediaRange[], canServe: (range: MediaRange) => T | undefined, what: string): T {
  for (const range of ranges) {
    const choice = canServe(range);
    if (choice !== undefined) return choice;
  }
  throw new LucidaError('NOT_ACCEPTABLE', `cannot produce any of the accepted media types for ${what}`);
}

/** DICOM JSON responses (QIDO-RS, metadata, STOW-RS): `application/dicom+json`, or `application/json` if that is what was asked. */
export function negotiateDicomJson(req: Request, what: string): 'application/dicom+json' | 'application/json' {
  return negotiate(parseAccept(req.get('accept')), (r) =>
    (['application/dicom+json', 'application/json'] as const).find((t) => mediaRangeMatches(r, t)), what);
}

/**
 * The part type a multipart/related media type or Accept range asks for: its `type` parameter
 * (PS3.18 §8.7), lower-case, or `fallback` (the resource's default part type) when it has none.
 * `multipart/*` and `*∕*` ranges admit multipart/related too. undefined when `mt` does not.
 */
export function multipartType(mt: Pick<MediaType, 'type' | 'subtype' | 'params'>, fallback: string): string | undefined {
  if (!mediaRangeMatches(mt, 'multipart/related')) return undefined;
  return (mt.params.type ?? fallback).toLowerCase();
}
