/**
 * Capture API requests for tests: multipart/form-data bodies built by hand (as a capture station
 * would send them), and polling a capture until its files settle.
 */
import request from 'supertest';
import { waitFor } from './wait.js';

export interface FormFile { fileName: string; contentType?: string; bytes: Buffer }

/** multipart/form-data with a `metadata` JSON part (unless undefined) and one part per file. */
export function captureForm(metadata: unknown, files: FormFile[], boundary = 'capture-form-boundary-91c2'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  const part = (headers: string[], body: Buffer) => {
    chunks.push(Buffer.from(`--${boundary}\r\n${headers.join('\r\n')}\r\n\r\n`), body, Buffer.from('\r\n'));
  };
  if (metadata !== undefined) {
    const json = typeof metadata === 'string' ? metadata : JSON.stringify(metadata);
    part(['Content-Disposition: form-data; name="metadata"', 'Content-Type: application/json'], Buffer.from(json));
  }
  for (const f of files) {
    part([`Content-Disposition: form-data; name="files"; filename="${f.fileName}"`, `Content-Type: ${f.contentType ?? 'image/jpeg'}`], f.bytes);
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** POST /api/captures. */
export function postCapture(url: string, token: string, metadata: unknown, files: FormFile[], headers: Record<string, string> = {}) {
  const { body, contentType } = captureForm(metadata, files);
  let req = request(url).post('/api/captures').set('Authorization', `Bearer ${token}`).set('Content-Type', contentType);
  for (const [k, v] of Object.entries(headers)) req = req.set(k, v);
  return req.send(body);
}

/** Polls GET /api/captures/{id} until no file is queued or converting (or the timeout); returns the last status. */
export function waitForCapture(url: string, token: string, id: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(async () => (await request(url).get(`/api/captures/${id}`).set('Authorization', `Bearer ${token}`).expect(200)).body,
    (body) => body.status !== 'processing', { timeoutMs });
}

/** Waits until every stored file of the capture has its QA figures (the derive job ran). */
export function waitForQa(url: string, token: string, id: string, timeoutMs = 30_000): Promise<any> {
  return waitFor(() => waitForCapture(url, token, id, timeoutMs),
    (body) => body.files.filter((f: any) => f.status === 'stored').every((f: any) => f.qa), { timeoutMs });
}
