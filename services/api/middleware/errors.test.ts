import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type RequestHandler } from 'express';
import pg from 'pg';
import request from 'supertest';
import { LucidaError } from '../../core/errors.js';
import { createLogger } from '../../core/logger.js';
import { errorHandler, notFound } from './errors.js';
import { requestContext } from './request-context.js';
import { freePort } from '../../../test/helpers/net.js';

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

  it('answers an INTERNAL LucidaError without its detail, which was written for the log', async () => {
    const logs: string[] = [];
    const res = await request(appWith(throwing(new LucidaError('INTERNAL', 'cannot write DICOM: /srv/lucida/objects/x')), logs))
      .get('/things/1').expect(500);
    expect(res.body).toMatchObject({ code: 'INTERNAL', detail: `unexpected error; quote request id ${res.body.requestId}` });
    expect(JSON.stringify(res.body)).not.toContain('/srv/lucida');
    expect(logs.join('')).toContain('/srv/lucida/objects/x');
  });

  describe('an unreachable database', () => {
    /** What node-postgres really throws when nothing listens where the database should be. */
    async function refusedConnection(): Promise<Error> {
      const client = new pg.Client({ host: '127.0.0.1', port: await freePort(), user: 'u', database: 'd', password: 'p' });
      return client.connect().then(() => { throw new Error('expected a refusal'); }, (err: Error) => err);
    }
    async function endedPool(): Promise<Error> {
      const pool = new pg.Pool({ host: '127.0.0.1', port: 1 });
      await pool.end();
      return pool.query('SELECT 1').then(() => { throw new Error('expected a refusal'); }, (err: Error) => err);
    }
    /**
     * What node-postgres really throws when the database host stops answering (it vanished: failover,
     * network cut) and query_timeout passes: a server that completes the start-up, then is silent.
     */
    async function unansweredQuery(): Promise<Error> {
      const accepted: net.Socket[] = [];
      const silent = net.createServer((socket) => {
        accepted.push(socket);
        // AuthenticationOk, then ReadyForQuery (idle): the v3 protocol's 'R' and 'Z' messages; then nothing.
        socket.once('data', () => socket.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0, 0x5a, 0, 0, 0, 5, 0x49])));
      }).listen(0, '127.0.0.1');
      await new Promise((resolve) => silent.once('listening', resolve));
      const client = new pg.Client({ host: '127.0.0.1', port: (silent.address() as AddressInfo).port, user: 'u', database: 'd', query_timeout: 100 });
      client.on('error', () => {});
      try {
        await client.connect();
        return await client.query('SELECT 1').then(() => { throw new Error('expected a timeout'); }, (err: Error) => err);
      } finally {
        for (const socket of accepted) socket.destroy();
        await new Promise((resolve) => silent.close(resolve));
      }
    }
    const sqlState = (code: string) => Object.assign(new Error('terminating connection due to administrator command'), { code, severity: 'FATAL' });

    it.each([
      ['a refused connection', refusedConnection],
      ['a pool that has been ended (shutting down)', endedPool],
      ['SQLSTATE 57P01 (admin shutdown)', async () => sqlState('57P01')],
      ['SQLSTATE 08006 (connection failure)', async () => sqlState('08006')],
      ['a connection error wrapped as a cause', async () => new Error('query failed', { cause: await refusedConnection() })],
      ['a query unanswered within query_timeout (the database host vanished)', unansweredQuery],
    ])('is 503 UNAVAILABLE, without the library\'s message: %s', async (_name, make) => {
      const err = await make();
      const res = await request(appWith(throwing(err))).get('/things/1').expect(503);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 503, code: 'UNAVAILABLE' });
      expect(JSON.stringify(res.body)).not.toContain(err.message);
      expect(JSON.stringify(res.body)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED|terminat/);
    });

    it('is not claimed for other database errors or local file errors: those are 500 without their text', async () => {
      const sql = Object.assign(new Error('duplicate key value violates unique constraint "patients_pkey"'),
        { code: '23505', detail: 'Key (patient_id)=(PID-LEAK) already exists.' });
      const file = Object.assign(new Error("ENOENT: no such file or directory, open '/srv/lucida/objects/ab'"), { code: 'ENOENT', syscall: 'open' });
      for (const err of [sql, file]) {
        const res = await request(appWith(throwing(err))).get('/things/1').expect(500);
        expect(res.body).toMatchObject({ code: 'INTERNAL' });
        expect(JSON.stringify(res.body)).not.toMatch(/PID-LEAK|patients_pkey|\/srv\/lucida|ENOENT/);
      }
    });
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
