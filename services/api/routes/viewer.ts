/**
 * The clinician viewer's static files (viewer/dist, built by `npm run build:viewer`, which
 * `npm install` runs) at /viewer/. They hold no patient data: the page gets everything through the
 * API with the session token it exchanges for its launch code, so the files are public.
 *
 * The page has its own Content-Security-Policy (the API's is `default-src 'none'`): scripts, styles,
 * images, workers and fetches from this origin only; `wasm-unsafe-eval` for Cornerstone's image
 * decoders (WebAssembly), `blob:` images for thumbnails fetched with the token; no inline scripts,
 * no eval, no plugins, no forms anywhere else. It may be framed by the EPR origins (CORS_ORIGINS)
 * like the API. Hashed assets are cached for a year; index.html is revalidated every time, so a
 * new release is picked up at the next launch.
 */
import { fileURLToPath } from 'node:url';
import { Router, type Request, type Response } from 'express';
import type { Config } from '../../core/config.js';
import { LucidaError } from '../../core/errors.js';
import { publicRoute } from '../middleware/auth.js';

export const VIEWER_DIST = fileURLToPath(new URL('../../../viewer/dist/', import.meta.url));

function viewerCsp(frameAncestors: readonly string[]): string {
  return [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "worker-src 'self'",
    "connect-src 'self'",
    "img-src 'self' blob: data:",
    // Cornerstone's tools set style attributes on the SVG they draw measurements with.
    "style-src 'self' 'unsafe-inline'",
    "font-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "object-src 'none'",
    `frame-ancestors ${["'self'", ...frameAncestors].join(' ')}`,
  ].join('; ');
}

export function viewerRoutes(config: Config, dist: string = VIEWER_DIST): Router {
  const router = Router();
  const csp = viewerCsp(config.http.corsOrigins);
  const guard = publicRoute('the viewer\'s static files hold no patient data');

  const send = (file: string, res: Response, next: (err?: unknown) => void) => {
    const immutable = file.startsWith('assets/');
    res.setHeader('Content-Security-Policy', csp);
    res.sendFile(file, {
      root: dist,
      dotfiles: 'deny',
      immutable,
      maxAge: immutable ? '365d' : 0,
      headers: immutable ? {} : { 'Cache-Control': 'no-cache' },
    }, (err?: NodeJS.ErrnoException & { status?: number }) => {
      if (!err) return;
      if (res.headersSent) { next(err); return; }
      res.removeHeader('Content-Security-Policy');
      if (file === 'index.html' && err.code === 'ENOENT') {
        next(new LucidaError('UNAVAILABLE', 'the viewer has not been built: run `npm run build:viewer` (npm install does it)'));
        return;
      }
      // Missing, a dotfile, or a path out of the build directory (send refuses those with 403/400): all "no such file".
      const clientSide = err.code === 'ENOENT' || (err.status !== undefined && err.status < 500);
      next(clientSide ? new LucidaError('NOT_FOUND', 'no such file in the viewer') : err);
    });
  };

  // Without strict routing '/viewer' matches '/viewer/' too: only the bare path is redirected
  // (the page's relative asset URLs need the slash).
  router.get('/viewer', guard, (req: Request, res: Response, next) => {
    if (req.path.endsWith('/')) send('index.html', res, next);
    else res.redirect(301, '/viewer/');
  });
  router.get('/viewer/*path', guard, (req: Request, res: Response, next) => {
    const parts = ([] as string[]).concat(req.params.path as string | string[]);
    send(parts.join('/'), res, next);
  });
  return router;
}
