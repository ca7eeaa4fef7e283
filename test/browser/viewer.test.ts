/**
 * The clinician viewer in a real browser (Debian chromium, headless, driven by playwright-core)
 * against a real server (API + worker, embedded Postgres) holding the demo patients, launched the
 * way an EPR launches it (POST /api/launch → one-time URL):
 * - the banner comes from the archive, the timeline lists the patient's photographs by visit, and
 *   the main viewport shows the photograph in true colour (pixel statistics of the viewport, and
 *   the demo photo's red, green and blue reference patches sampled on screen);
 * - "compare with previous" shows two viewports with different dates, zoom synchronised;
 * - calibrate on the ruler, measure, launch again: the measurement is there with the same value;
 * - a launch for patient A asking for patient B's study gets a 404 from the archive and a message;
 *   used and missing launch codes each get their message;
 * - rotate / reset, keyboard shortcuts, tablet width, accessible names.
 * Screenshots go to test/artifacts/ (kept by CI; the README shows one).
 */
import type { Page, Response } from 'playwright-core';
import { demoPhotoLayout } from '../../services/core/demo/demo-photos.js';
import { DEMO_SEEDER_SUBJECT, seedDemo, type SeededDemo, type SeededImage } from '../../services/core/demo/seed.js';
import { ensureViewerBuilt, elementPixels, launchUrl, openBrowser, sampleColour, screenshot, type Browser } from '../helpers/browser.js';
import { describeWithTools } from '../fixtures/tools.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const SIZE = { width: 1024, height: 768 };
describeWithTools(['chromium'], 'clinician viewer in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let demo: SeededDemo;
  let epr: string;
  const alice = () => demo.patients[0];
  const bob = () => demo.patients[1];

  beforeAll(async () => {
    ensureViewerBuilt();
    srv = await startTestServer({}, ['api', 'worker']);
    epr = await srv.token('epr', { subject: 'epr-system' });
    const seeder = await srv.token('photographer', { subject: DEMO_SEEDER_SUBJECT });
    demo = await seedDemo({ baseUrl: srv.url, token: seeder }, { size: SIZE, studiesForFirstPatient: 4, patients: 2 });
    browser = await openBrowser();
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await srv?.destroy();
  });

  /** A new page opened through a fresh launch for `nhsNumber` (plus `hash` appended to the launch fragment). */
  async function launch(nhsNumber: string, hash = '', viewport?: { width: number; height: number }): Promise<{ page: Page; responses: Response[] }> {
    const page = await browser.newPage(viewport);
    const responses: Response[] = [];
    page.on('response', (r) => responses.push(r));
    page.on('pageerror', (e) => { throw e; });
    await page.goto(`${await launchUrl(srv.url, epr, nhsNumber)}${hash}`);
    await page.waitForSelector('.viewport[data-rendered="true"], #message:not([hidden])', { timeout: 30_000 });
    return { page, responses };
  }

  /** Page coordinates of an image pixel point in a pane showing a width×height photograph fitted to it (Cornerstone's fit: contain, centred). */
  async function toPage(page: Page, paneIndex: number, img: { width: number; height: number }, x: number, y: number) {
    const box = (await page.locator('.viewport').nth(paneIndex).boundingBox())!;
    const scale = Math.min(box.width / img.width, box.height / img.height);
    return { x: box.x + (box.width - img.width * scale) / 2 + x * scale, y: box.y + (box.height - img.height * scale) / 2 + y * scale, scale };
  }

  async function drag(page: Page, from: { x: number; y: number }, to: { x: number; y: number }) {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 12 });
    await page.mouse.up();
  }

  async function open(page: Page, image: SeededImage) {
    await page.click(`.thumb[data-sop="${image.sopInstanceUID}"]`);
    await page.waitForSelector(`.viewport[data-sop="${image.sopInstanceUID}"][data-rendered="true"]`);
    await page.waitForTimeout(200);
  }

  const forearms = () => alice().studies.flatMap((s) => s.images.map((i) => ({ ...i, date: s.takenAt.date })))
    .filter((i) => i.site.code === '70559009' && i.laterality === 'R' && i.view?.display === 'frontal');

  it('opens on the patient with the banner from the archive, the timeline, and the photograph in true colour', async () => {
    const { page } = await launch(alice().nhsNumber);
    const banner = await page.locator('#banner').innerText();
    expect(banner).toContain('DEMO, Alice');
    expect(banner).toContain('999 000 1006');
    expect(banner).toContain(`Born ${new Date(`${alice().birthDate}T00:00:00Z`).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' })}`);
    expect(banner).toContain('Female');
    // Every photograph of Alice's, none of Bob's; visits newest first.
    const images = alice().studies.flatMap((s) => s.images);
    expect(await page.locator('.thumb').count()).toBe(images.length);
    const dates = await page.locator('.visit').evaluateAll((els) => els.map((e) => (e as any).dataset.date!));
    expect(dates).toEqual([...new Set(alice().studies.map((s) => s.takenAt.date))].sort().reverse());

    const newest = forearms().sort((a, b) => b.date.localeCompare(a.date))[0];
    await open(page, newest);
    await screenshot(page, 'viewer-launch');
    // Not a blank or flat canvas: a photograph with detail.
    const { stats } = await elementPixels(page, '.viewport');
    expect(Math.max(...stats.stdev)).toBeGreaterThan(25);
    // The reference patches in their colours (YBR_FULL_422 JPEG decoded once: no green or purple cast).
    const layout = demoPhotoLayout(newest.width, newest.height, newest.lesion.diameterMm);
    for (const patch of layout.patches) {
      const at = await toPage(page, 0, newest, patch.x + patch.w / 2, patch.y + patch.h / 2);
      const seen = await sampleColour(page, at.x, at.y, 8);
      for (let c = 0; c < 3; c++) expect(Math.abs(seen[c] - patch.rgb[c])).toBeLessThanOrEqual(14);
    }
    // The details panel: consent level, photographer, camera, image quality.
    const details = await page.locator('#photo-details').innerText();
    expect(details).toMatch(/Consent\s+(Clinical record only|Teaching|Publication)/);
    expect(details).toContain('Canon EOS R6');
    expect(details).toMatch(/Image quality\s+\S/);
    await page.close();
  });

  it('compares with the previous photograph of the same site, side by side, with different dates and synchronised zoom', async () => {
    const { page } = await launch(alice().nhsNumber);
    const [newest, previous] = forearms().sort((a, b) => b.date.localeCompare(a.date));
    await open(page, newest);
    await page.click('#compare-previous');
    await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('.viewport[data-rendered="true"]').length === 2);
    const sops = await page.locator('.viewport').evaluateAll((els) => els.map((e) => (e as any).dataset.sop));
    expect(sops).toEqual([previous.sopInstanceUID, newest.sopInstanceUID]);
    const labels = await page.locator('.pane-label').allInnerTexts();
    expect(labels).toHaveLength(2);
    expect(labels[0].split(' · ')[0]).not.toEqual(labels[1].split(' · ')[0]);
    await page.waitForTimeout(200);
    await screenshot(page, 'viewer-compare');
    // Zooming the first pane zooms the second too.
    const before = (await elementPixels(page, '.pane:nth-child(2) .viewport')).stats;
    await page.locator('.viewport').first().click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    await page.waitForTimeout(300);
    const after = (await elementPixels(page, '.pane:nth-child(2) .viewport')).stats;
    expect(Math.abs(after.mean[0] - before.mean[0]) + Math.abs(after.stdev[0] - before.stdev[0])).toBeGreaterThan(1);
    await page.close();
  });

  it('calibrates on the ruler, measures, and finds the measurement with the same value at the next launch', async () => {
    const target = forearms().sort((a, b) => b.date.localeCompare(a.date))[1];
    const layout = demoPhotoLayout(target.width, target.height, target.lesion.diameterMm);
    let { page } = await launch(alice().nhsNumber);
    await open(page, target);
    // Calibrate: a line from the 0 to the 10 cm tick, given as 100 mm.
    await page.click('[data-tool="Calibration"]');
    await drag(page, await toPage(page, 0, target, layout.ruler.x0, layout.ruler.y), await toPage(page, 0, target, layout.ruler.x10cm, layout.ruler.y));
    await page.waitForSelector('#calibration-dialog[open]');
    await page.fill('#calibration-mm', '100');
    await page.click('#calibration-ok');
    await page.waitForSelector('#calibration[data-calibrated="true"]');
    // Measure the lesion's long axis.
    await page.click('[data-tool="Length"]');
    const { lesion } = layout;
    await drag(page, await toPage(page, 0, target, lesion.cx - lesion.rx, lesion.cy), await toPage(page, 0, target, lesion.cx + lesion.rx, lesion.cy));
    const item = page.locator('#measurements li[data-kind="length"]');
    await item.waitFor();
    const value = Number(await item.getAttribute('data-value'));
    expect(await item.getAttribute('data-unit')).toBe('mm');
    // What was drawn, within the drawing's precision (a screen pixel is 1/scale image pixels).
    const { scale } = await toPage(page, 0, target, 0, 0);
    expect(Math.abs(value - lesion.longAxisMm)).toBeLessThan(2 / scale / layout.pxPerMm + 0.2);
    await screenshot(page, 'viewer-measure');
    await page.close();

    // The next visit: a new launch, the same photograph, the same calibration and value.
    ({ page } = await launch(alice().nhsNumber));
    await open(page, target);
    const again = page.locator('#measurements li[data-kind="length"]');
    await again.waitFor();
    expect(Number(await again.getAttribute('data-value'))).toBe(value);
    expect(await page.locator('#calibration').innerText()).toContain('100 mm');
    // And the timeline says the photograph has a measurement.
    expect(await page.locator(`.thumb[data-sop="${target.sopInstanceUID}"] .badge-measured`).innerText()).toContain('1 measured');
    await page.close();
  });

  it('a launch for one patient that asks for another patient\'s study gets a 404 and shows a message, not the images', async () => {
    const other = bob().studies[0];
    const { page, responses } = await launch(alice().nhsNumber, `&study=${other.studyInstanceUID}`);
    const message = page.locator('#message');
    await message.waitFor();
    expect(await message.getAttribute('data-kind')).toBe('not-found');
    expect(await message.innerText()).toMatch(/not available/i);
    const asked = responses.filter((r) => r.url().includes(other.studyInstanceUID));
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.status() === 404)).toBe(true);
    expect(await page.locator('.viewport').count()).toBe(0);
    expect(await page.content()).not.toContain('Bob');
    await screenshot(page, 'viewer-other-patient');
    await page.close();
  });

  it('shows what went wrong for a used launch link and for a page opened without one', async () => {
    const url = await launchUrl(srv.url, epr, alice().nhsNumber);
    const first = await browser.newPage();
    await first.goto(url);
    await first.waitForSelector('.viewport[data-rendered="true"]');
    // The code is gone from the address bar at once.
    expect(first.url()).not.toContain('launch=');
    await first.close();
    const reused = await browser.newPage();
    await reused.goto(url);
    await reused.waitForSelector('#message:not([hidden])');
    expect(await reused.locator('#message').getAttribute('data-kind')).toBe('expired');
    expect(await reused.locator('#message').innerText()).toMatch(/expired or has already been used/);
    await reused.goto(`${srv.url}/viewer/`);
    await reused.waitForSelector('#message:not([hidden])');
    expect(await reused.locator('#message').getAttribute('data-kind')).toBe('no-launch');
    await reused.close();
  });

  it('rotates, flips and resets from the keyboard, fits a tablet, and names every control', async () => {
    const { page } = await launch(alice().nhsNumber, '', { width: 820, height: 1180 });
    await page.waitForTimeout(200);
    await screenshot(page, 'viewer-tablet');
    // Everything usable at tablet width: the image, the toolbar and the timeline are on screen.
    for (const sel of ['.viewport', '[data-tool="Length"]', '#compare-previous', '.thumb']) {
      const box = await page.locator(sel).first().boundingBox();
      expect(box && box.width > 0 && box.x >= 0 && box.x + box.width <= 820).toBe(true);
    }
    const { png: initial, stats: initialStats } = await elementPixels(page, '.viewport');
    await page.locator('.viewport').first().click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('r');
    await page.waitForTimeout(200);
    const rotated = (await elementPixels(page, '.viewport')).png;
    expect(rotated.equals(initial)).toBe(false);
    await page.keyboard.press('h');
    await page.keyboard.press('Escape');
    await page.waitForTimeout(200);
    const reset = (await elementPixels(page, '.viewport')).stats;
    for (let c = 0; c < 3; c++) expect(Math.abs(reset.mean[c] - initialStats.mean[c])).toBeLessThan(0.5);
    // Every button and form control has an accessible name.
    const unnamed = await page.locator('button, input, select').evaluateAll((els) => els
      .filter((e) => (e as any).offsetParent !== null)
      .filter((e) => !(e.getAttribute('aria-label') || e.textContent?.trim() || (e.id && (globalThis as any).document.querySelector(`label[for="${e.id}"]`))))
      .map((e) => e.outerHTML.slice(0, 80)));
    expect(unnamed).toEqual([]);
    await page.close();
  });
});
