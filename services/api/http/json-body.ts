/**
 * Small JSON request bodies (the launch API, the viewer's annotations): application/json in UTF-8,
 * bounded in size, parsed as I-JSON.
 */
import type { Request } from 'express';
import { LucidaError } from '../../core/errors.js';
import { readJsonPart } from './json-part.js';
import { limitBody } from './limit-body.js';
import { parseMediaType } from './media-type.js';

/**
 * The request's JSON body: 415 UNSUPPORTED_MEDIA_TYPE for any other type (or charset), 413
 * PAYLOAD_TOO_LARGE past `maxBytes` (before the rest is read), 400 BAD_REQUEST for bytes that are not
 * I-JSON (RFC 7493).
 */
export async function readJsonBody(req: Request, maxBytes: number): Promise<unknown> {
  const type = parseMediaType(req.get('content-type') ?? '');
  if (type.essence !== 'application/json') throw new LucidaError('UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json');
  const charset = type.params.charset?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8') throw new LucidaError('UNSUPPORTED_MEDIA_TYPE', 'JSON must be UTF-8');
  const { value } = await readJsonPart(limitBody(req, maxBytes), maxBytes, 'the request body',
    () => new LucidaError('BAD_REQUEST', 'the body is not valid JSON'));
  return value;
}
