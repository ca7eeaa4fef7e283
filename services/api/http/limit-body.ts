import type { Request } from 'express';
import { LucidaError } from '../../core/errors.js';

/**
 * The request body as chunks, failing with PAYLOAD_TOO_LARGE as soon as more than `max` bytes have
 * arrived (a declared Content-Length over the limit is refused before reading anything).
 */
export async function* limitBody(req: Request, max: number): AsyncGenerator<Buffer> {
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > max) throw new LucidaError('PAYLOAD_TOO_LARGE', `request body over ${max} bytes`);
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) throw new LucidaError('PAYLOAD_TOO_LARGE', `request body over ${max} bytes`);
    yield chunk;
  }
}
