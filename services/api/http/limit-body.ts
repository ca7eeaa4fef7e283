/**
 * Request bodies read as a stream of chunks, bounded in size, by the routes that take uploads
 * (STOW-RS, the capture API).
 */
import type { Request } from 'express';
import { LucidaError } from '../../core/errors.js';

/** How much of an unread body is dropped after an early answer, and for how long, before the connection is cut. */
export interface DiscardLimits { maxBytes: number; maxMs: number }
export const DISCARD_LIMITS: DiscardLimits = { maxBytes: 16 * 1024 * 1024, maxMs: 10_000 };

/**
 * The request body as chunks, failing with PAYLOAD_TOO_LARGE as soon as more than `max` bytes have
 * arrived (a declared Content-Length over the limit is refused before reading anything).
 *
 * A route may answer before the body has been read to its end (STOW-RS reports the instances stored
 * before a malformed part, PS3.18 §10.5.3). The unread rest would then hold the kept-alive
 * connection: the client's next request on it would wait unanswered until the server timed it out.
 * So once the answer is sent, the rest is read and dropped, up to `discard` limits; past them the
 * connection is cut. (Closing at once instead would make the client's TCP stack see a reset while it
 * is still sending, and many clients then lose the answer itself.)
 */
export async function* limitBody(req: Request, max: number, discard: DiscardLimits = DISCARD_LIMITS): AsyncGenerator<Buffer> {
  let readToEnd = false;
  req.res?.once('finish', () => {
    if (!readToEnd) discardRest(req, discard);
  });
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > max) throw new LucidaError('PAYLOAD_TOO_LARGE', `request body over ${max} bytes`);
  let seen = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    seen += chunk.length;
    if (seen > max) throw new LucidaError('PAYLOAD_TOO_LARGE', `request body over ${max} bytes`);
    yield chunk;
  }
  readToEnd = true;
}

/** Reads and drops the rest of `req` (its reader stopped early); cuts the connection past the limits. */
function discardRest(req: Request, limits: DiscardLimits): void {
  if (req.readableEnded || req.destroyed) return;
  let left = limits.maxBytes;
  const cut = () => {
    req.off('readable', drain);
    req.socket?.destroy();
  };
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  function drain(): void {
    for (let chunk = req.read() as Buffer | null; chunk !== null; chunk = req.read() as Buffer | null) {
      left -= chunk.length;
      if (left < 0) {
        clearTimeout(timer);
        cut();
        return;
      }
    }
  }
  req.on('readable', drain);
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  drain();
}
