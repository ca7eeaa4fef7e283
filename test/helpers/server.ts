/**
 * A whole Lucida server for integration tests: real embedded Postgres, real filesystem store,
 * real HTTP on a loopback port, local signing key. Log lines are captured for assertions
 * (`srv.logs`, at the configured level) and, at debug level and above, in a file under test-logs/
 * that test/log-scan.ts searches for patient identifiers once the suite has run.
 */
import { mkdirSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import pino, { type Logger } from 'pino';
import { loadConfig, type Config } from '../../services/core/config.js';
import { createLogger } from '../../services/core/logger.js';
import { loadOrCreateLocalKey, signLocalToken } from '../../services/core/auth/tokens.js';
import { startRuntime, type Role, type Runtime } from '../../services/runtime.js';
import { freePort } from './net.js';

export interface TestServer {
  url: string;
  config: Config;
  runtime: Runtime;
  logs: string[];
  token(roles: string | string[], extra?: { patientId?: string; subject?: string; ttlSeconds?: number }): Promise<string>;
  /** Stops the server but keeps DATA_DIR (for restart tests). */
  stop(): Promise<void>;
  /** Starts again on the same DATA_DIR. */
  restart(): Promise<void>;
  /** Stops and removes DATA_DIR. */
  destroy(): Promise<void>;
}

/** Every test logger's file lands here; `npm test` empties it first and scans it last (test/log-scan.ts). */
export const TEST_LOG_DIR = fileURLToPath(new URL('../../test-logs/', import.meta.url));
let logFiles = 0;

/**
 * A logger for tests. Every line at debug level and above (trace too when asked for) is written,
 * synchronously so that nothing is lost when a jest worker exits, to test-logs/<test file>-<pid>-<n>.log;
 * lines at `level` and above are also kept in `lines` for assertions. Tests that build their own
 * adapters use this rather than a silent logger, so that their logs are scanned too.
 */
export function testLogger(level: Config['logLevel'] = 'info'): { log: Logger; lines: string[]; file: string } {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  const testPath = (globalThis as { expect?: { getState(): { testPath?: string } } }).expect?.getState().testPath;
  const name = testPath ? path.basename(testPath).replace(/\.test\.ts$/, '') : 'test';
  const file = path.join(TEST_LOG_DIR, `${name}-${process.pid}-${++logFiles}.log`);
  const fd = openSync(file, 'a'); // left open for late lines; closed when the worker exits
  const keepFrom = level === 'silent' ? Infinity : pino.levels.values[level];
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      const line = String(chunk);
      writeSync(fd, line);
      if (Number(/"level":(\d+)/.exec(line)?.[1]) >= keepFrom) lines.push(line);
      cb();
    },
  });
  return { log: createLogger(level === 'trace' ? 'trace' : 'debug', sink), lines, file };
}

export async function startTestServer(env: Record<string, string> = {}, roles: Role[] = ['api']): Promise<TestServer> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'lucida-it-'));
  const port = await freePort();
  const config = loadConfig({
    DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', EMBEDDED_PG_PORT: String(await freePort()),
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`, LOG_LEVEL: 'info', ...env,
  });
  const { log, lines: logs } = testLogger(config.logLevel);
  let runtime = await startRuntime(config, log, roles);
  const key = await loadOrCreateLocalKey(dataDir);
  const server: TestServer = {
    url: `http://127.0.0.1:${port}`,
    config,
    get runtime() { return runtime; },
    logs,
    token: (roles, extra = {}) => signLocalToken(key, config.auth, {
      subject: extra.subject ?? 'test-user', roles: ([] as string[]).concat(roles),
      patientId: extra.patientId, ttlSeconds: extra.ttlSeconds,
    }),
    stop: () => runtime.stop(),
    async restart() { runtime = await startRuntime(config, log, roles); },
    async destroy() {
      await runtime.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  } as TestServer;
  return server;
}

/** Builds a multipart/related body (for requests) from parts. */
export function multipartBody(parts: { contentType?: string; headers?: Record<string, string>; body: Buffer }[],
  boundary = 'lucida-test-boundary-7f3a'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const headers = Object.entries(p.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${p.contentType === undefined ? '' : `Content-Type: ${p.contentType}\r\n`}${headers}\r\n`));
    chunks.push(p.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** Splits a multipart/related response body into its parts (test-side reader, independent of the server's). */
export function splitMultipart(body: Buffer, contentType: string): { headers: Record<string, string>; body: Buffer }[] {
  const m = contentType.match(/boundary="?([^";]+)"?/i);
  if (!m) throw new Error(`no boundary in ${contentType}`);
  const delim = Buffer.from(`--${m[1]}`);
  const parts: { headers: Record<string, string>; body: Buffer }[] = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    const after = pos + delim.length;
    if (body.subarray(after, after + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', after);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delim]), headerEnd);
    const headers: Record<string, string> = {};
    for (const line of body.subarray(after + 2, headerEnd).toString().split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}

/**
 * supertest parser that keeps a response body as raw bytes whatever its Content-Type:
 * `request(url).get(...).buffer(true).parse(binary)` gives `res.body` as a Buffer. (superagent hands
 * Node parsers the IncomingMessage, typed there as its own Response, hence `any`.)
 */
export function binary(res: any, cb: (err: Error | null, body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  res.on('data', (c: Buffer) => chunks.push(c));
  res.on('error', (err: Error) => cb(err, Buffer.concat(chunks)));
  res.on('end', () => cb(null, Buffer.concat(chunks)));
}
