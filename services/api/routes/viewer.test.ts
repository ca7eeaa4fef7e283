/**
 * The viewer's static files: index.html revalidated and hashed assets cached for a year, the page's
 * own CSP (WebAssembly decoders, same-origin workers and fetches, framed only by the EPR origins),
 * the bare /viewer redirected, no path escapes the build directory, and a clear 503 when the viewer
 * has not been built.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import express, { type Express } from 'express';
import request from 'supertest';
import { loadConfig } from '../../core/config.js';
import { createLogger } from '../../core/logger.js';
import { errorHandler, notFound } from '../middleware/errors.js';
import { requestContext } from '../middleware/request-context.js';
import { viewerRoutes } from './viewer.js';

describe('viewer static files', () => {
  let dist: string;
  let app: Express;
  const config = loadConfig({ CORS_ORIGINS: 'https://epr.example.nhs.uk' });

  const appOn = (dir: string) => {
    const a = express();
    a.use(requestContext(createLogger('silent')));
    a.use(viewerRoutes(config, dir));
    a.use(notFound);
    a.use(errorHandler);
    return a;
  };

  beforeAll(async () => {
    dist = await mkdtemp(path.join(os.tmpdir(), 'lucida-viewer-'));
    await mkdir(path.join(dist, 'assets'));
    await writeFile(path.join(dist, 'index.html'), '<!doctype html><title>viewer</title>');
    await writeFile(path.join(dist, 'assets/index-abc123.js'), 'console.log(1)');
    await writeFile(path.join(dist, '.secret'), 'no');
    await writeFile(path.join(path.dirname(dist), 'outside.txt'), 'no');
    app = appOn(dist);
  });
  afterAll(async () => { await rm(dist, { recursive: true, force: true }); });

  it('serves the page with its CSP, revalidated', async () => {
    const res = await request(app).get('/viewer/').expect(200);
    expect(res.type).toBe('text/html');
    expect(res.headers['cache-control']).toBe('no-cache');
    const csp = res.headers['content-security-policy'];
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'self' https://epr.example.nhs.uk");
    expect(csp).not.toContain("'unsafe-eval'");
  });

  it('caches hashed assets for a year and redirects the bare path', async () => {
    const res = await request(app).get('/viewer/assets/index-abc123.js').expect(200);
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(res.type).toBe('text/javascript');
    await request(app).get('/viewer').expect(301).expect('Location', '/viewer/');
  });

  it.each([
    ['/viewer/nothing.js', 404],
    ['/viewer/.secret', 404],
    ['/viewer/..%2Foutside.txt', 404],
    ['/viewer/assets/../../outside.txt', 404],
  ])('%s answers %i as problem+json', async (url, status) => {
    const res = await request(app).get(url).expect(status);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.code).toMatch(/NOT_FOUND/);
    expect(res.headers['content-security-policy'] ?? '').not.toContain('wasm');
  });

  it('answers 503 with what to do when the viewer is not built', async () => {
    const res = await request(appOn(path.join(dist, 'missing'))).get('/viewer/').expect(503);
    expect(res.type).toBe('application/problem+json');
    expect(res.body.detail).toContain('npm run build:viewer');
  });
});
