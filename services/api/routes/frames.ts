/**
 * WADO-RS Retrieve Frames (PS3.18 §10.4.1.1.3): /frames/{list}. Frames go out as stored with
 * `transfer-syntax=*` (what Cornerstone's loader asks for), as image/jpeg when stored as JPEG
 * baseline, or uncompressed (the default; frames in any syntax the codec decodes, canDecodeToNative,
 * are decoded for it).
 */
import { Router, type Request, type Response } from 'express';
import { LucidaError } from '../../core/errors.js';
import { canDecodeToNative, decodeFrame, getFrames, readPart10, TS } from '../../core/dicom/index.js';
import type { InstanceIndex } from '../../core/index/port.js';
import { readObject, type ObjectStore } from '../../core/storage/object-store.js';
import { parseAccept, type MediaRange } from '../http/media-type.js';
import { MultipartWriter } from '../multipart/writer.js';
import { allow } from '../middleware/auth.js';
import { multipartType, negotiate } from '../http/negotiate.js';
import { findTarget, isFrameNumber, parseTarget } from './retrieve-common.js';

type FrameChoice = { multipart: boolean; partType: 'application/octet-stream' | 'image/jpeg'; uncompressed: boolean };

function parseFrameList(raw: string): number[] {
  const frames = raw.split(',').map((s) => s.trim());
  if (frames.some((f) => !isFrameNumber(f))) {
    throw new LucidaError('BAD_REQUEST', 'frame list must be comma-separated frame numbers starting at 1');
  }
  return frames.map(Number);
}

export function frameRoutes(deps: { index: InstanceIndex; store: ObjectStore }): Router {
  const router = Router();
  router.get('/studies/:study/series/:series/instances/:instance/frames/:frames', allow('read'), async (req: Request, res: Response) => {
    const frameNumbers = parseFrameList(req.params.frames as string);
    const [inst] = await findTarget(deps.index, req, parseTarget(req.params));
    const stored = inst.transferSyntaxUID;
    const choice = negotiate(parseAccept(req.get('accept')), (r) => frameChoice(r, stored, frameNumbers.length), 'frames');
    // Read the instance once; every requested frame comes out of that one read.
    const source = getFrames(readPart10(await readObject(deps.store, inst.objectKey)));
    const frames = await Promise.all(frameNumbers.map((n) => (choice.uncompressed ? decodeFrame(source, n) : source.frame(n))));
    // Frames as stored are in the source's frame syntax: native pixel data always comes out little endian.
    const ts = choice.uncompressed ? TS.ExplicitVRLittleEndian : source.frameTransferSyntaxUID;
    const partType = choice.partType === 'image/jpeg' ? 'image/jpeg' : `application/octet-stream; transfer-syntax=${ts}`;
    if (!choice.multipart) {
      res.status(200).setHeader('Content-Type', partType);
      res.send(frames[0]);
      return;
    }
    const writer = new MultipartWriter(res);
    res.status(200).setHeader('Content-Type', writer.contentTypeHeader(choice.partType));
    for (let i = 0; i < frames.length; i++) {
      const location = `${req.baseUrl}${req.path.replace(/\/frames\/[^/]+$/, '')}/frames/${frameNumbers[i]}`;
      await writer.writePart({ 'Content-Type': partType, 'Content-Location': location }, frames[i]);
    }
    await writer.end();
    res.end();
  });
  return router;
}

function frameChoice(r: MediaRange, stored: string, count: number): FrameChoice | undefined {
  const partType = multipartType(r, 'application/octet-stream');
  const multipart = partType !== undefined;
  const type = partType ?? r.essence;
  if (!multipart && count !== 1) return undefined;
  if (type === 'image/jpeg') {
    return stored === TS.JPEGBaseline8Bit ? { multipart, partType: 'image/jpeg', uncompressed: false } : undefined;
  }
  if (type !== 'application/octet-stream') return undefined;
  const ts = r.params['transfer-syntax'];
  if (ts === '*' || ts === stored) return { multipart, partType: 'application/octet-stream', uncompressed: false };
  if ((ts === undefined || ts === TS.ExplicitVRLittleEndian) && canDecodeToNative(stored)) {
    return { multipart, partType: 'application/octet-stream', uncompressed: true };
  }
  return undefined;
}

