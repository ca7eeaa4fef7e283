import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type RequestHandler } from 'express';
import request from 'supertest';
import { LucidaError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { errorHandler, notFound } from './errors.js';
import { requestContext } from './request-context.js';

/** An app whose one route is `handler`, behind the real request context and error middleware; its log lines land in `logs`. */
function appWith(handler: RequestHandler, logs: string[] = []) {
  const sink = new Writable({ write(chunk, _enc, cb) { logs.push(String(chunk)); cb(); } });
  const app = express();
  app.use(requestContext(createLogger('info', sink)));
  app.get('/things/:id', handler);
  app.use(notFound);
  app.use(errorHandler);
  return app;
}
const throwing = (err: unknown): RequestHandler => () => { throw err; };
const withStatus = (props: Record<string, unknown>) => Object.assign(new Error('raw detail: /things/%E0'), props);

describe('errorHandler', () => {
  it('answers a LucidaError with its status and code as problem+json', async () => {
    const res = await request(appWith(throwing(new LucidaError('INVALID_UID', 'bad uid')))).get('/things/1').expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'urn:lucida:error:INVALID_UID', status: 400, code: 'INVALID_UID', detail: 'bad uid' });
    expect(res.body.requestId).toBe(res.headers['x-request-id']);
  });

  it('answers a malformed percent-escape in the path (the router\'s URIError) with 400 BAD_REQUEST, not 500', async () => {
    const res = await request(appWith(throwing(new Error('never reached')))).get('/things/%E0%A4%A').expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
    expect(JSON.stringify(res.body)).not.toContain('%E0');
  });

  it.each([
    [{ status: 413 }, 413, 'PAYLOAD_TOO_LARGE'],
    [{ statusCode: 413 }, 413, 'PAYLOAD_TOO_LARGE'],
    [{ status: 400, type: 'entity.parse.failed' }, 400, 'BAD_REQUEST'],
    [{ status: 415 }, 400, 'BAD_REQUEST'],
    [{ statusCode: 431 }, 400, 'BAD_REQUEST'],
    [{ status: 503 }, 500, 'INTERNAL'],
    [{ status: '400' }, 500, 'INTERNAL'],
    [{}, 500, 'INTERNAL'],
  ])('maps an error with %j to %i %s, without its message', async (props, status, code) => {
    const res = await request(appWith(throwing(withStatus(props)))).get('/things/1').expect(status);
    expect(res.body).toMatchObject({ status, code });
    expect(JSON.stringify(res.body)).not.toContain('raw detail');
  });

  describe('a response streamed from a source that has not yet ended', () => {
    /**
     * Serves `declared` bytes of Content-Length from a source that gives 10 bytes and then, after
     * `cutMs`, is destroyed; the client reads with no connection reuse (it closes once the body is whole).
     * Resolves with the log lines once the request has been accounted for.
     */
    async function stream(declared: number, cutMs?: number): Promise<string[]> {
      const logs: string[] = [];
      const app = appWith(async (_req, res) => {
        res.status(200).setHeader('Content-Length', String(declared));
        const source = new PassThrough();
        source.write('0123456789');
        if (cutMs !== undefined) setTimeout(() => source.destroy(), cutMs);
        await pipeline(source, res);
      }, logs);
      const server = http.createServer(app).listen(0, '127.0.0.1');
      await new Promise((resolve) => server.once('listening', resolve));
      try {
        await new Promise<void>((resolve) => {
          http.get({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, path: '/things/1', agent: false }, (res) => {
            res.resume();
            res.on('close', () => resolve());
          }).on('error', () => resolve());
        });
        while (!logs.some((l) => l.includes('"msg":"request"'))) await new Promise((r) => setTimeout(r, 5));
        await new Promise((r) => setTimeout(r, 20)); // the error handler's line, if any, follows
      } finally {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      return logs;
    }
    const errorLines = (logs: string[]) => logs.filter((l) => l.includes('"level":50'));

    it('is not an error when the client closes the connection once it has the whole body', async () => {
      const logs = await stream(10);
      expect(logs.join('')).toContain('"aborted":true');
      expect(errorLines(logs)).toEqual([]);
    });

    it('is still an error when the source fails before the body is whole', async () => {
      const logs = await stream(20, 20);
      expect(errorLines(logs)).toEqual([expect.stringContaining('"msg":"unexpected error"')]);
    });
  });
});
