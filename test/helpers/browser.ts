/**
 * Headless Debian Chromium for the viewer's browser tests and the time-to-first-image benchmark,
 * driven by playwright-core (STACK.md: never `npx playwright install`; a persistent context rather
 * than a --user-data-dir flag). Also: the built viewer (rebuilt when its sources are newer), viewer
 * launches for a patient, and pixel statistics of what is on screen.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import sharp from 'sharp';
import request from 'supertest';
import { VIEWER_DIST } from '../../services/api/routes/viewer.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const ARTIFACTS = path.join(ROOT, 'test/artifacts');

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The newest modification time under `dir` (files only). */
function newest(dir: string): number {
  let t = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** Builds the viewer unless viewer/dist is newer than its sources (npm install builds it; an edit afterwards would not be tested). */
export function ensureViewerBuilt(): void {
  const index = path.join(VIEWER_DIST, 'index.html');
  const sources = Math.max(newest(path.join(ROOT, 'viewer/src')), statSync(path.join(ROOT, 'viewer/index.html')).mtimeMs,
    statSync(path.join(ROOT, 'viewer/vite.config.ts')).mtimeMs);
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  // package.json's build:viewer is the one build command.
  execFileSync('npm', ['run', '-s', 'build:viewer'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface Browser {
  context: BrowserContext;
  newPage(viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'lucida-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 },
  });
  return {
    context,
    async newPage(viewport) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      return page;
    },
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** A one-time viewer launch URL for a patient (as an EPR asks for it), made absolute. */
export async function launchUrl(serverUrl: string, eprToken: string, patientId: string, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await request(serverUrl).post('/api/launch').set('Authorization', `Bearer ${eprToken}`)
    .send({ patient: { id: patientId, issuer: 'NHS' }, user: { id: 'dr-viewer', name: 'Dr Viewer' }, ...extra });
  if (res.status !== 201) throw new Error(`launch failed: ${res.status} ${JSON.stringify(res.body)}`);
  // The URL is built on PUBLIC_BASE_URL; the test server's own address is what the browser can reach.
  const url = new URL(res.body.url);
  return `${serverUrl}${url.pathname}${url.hash}`;
}

/** Saves a screenshot under test/artifacts/ (kept by CI) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

export interface PixelStats { mean: number[]; stdev: number[]; width: number; height: number }

/** Mean and spread per RGB channel of an element's pixels as displayed (a screenshot of it). */
export async function elementPixels(page: Page, selector: string): Promise<{ stats: PixelStats; png: Buffer }> {
  const png = await page.locator(selector).first().screenshot();
  const s = await sharp(png).removeAlpha().stats();
  const meta = await sharp(png).metadata();
  return { stats: { mean: s.channels.map((c) => c.mean), stdev: s.channels.map((c) => c.stdev), width: meta.width!, height: meta.height! }, png };
}

/** The mean RGB colour of a square of `size` CSS pixels centred on page point (x, y), as displayed. */
export async function sampleColour(page: Page, x: number, y: number, size = 12): Promise<number[]> {
  const png = await page.screenshot({ clip: { x: x - size / 2, y: y - size / 2, width: size, height: size } });
  const s = await sharp(png).removeAlpha().stats();
  return s.channels.map((c) => Math.round(c.mean));
}
