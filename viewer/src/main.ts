/**
 * Lucida's clinician viewer: opened from the patient's record in the EPR (a one-time launch URL,
 * or IHE Invoke Image Display), it shows the patient banner from the archive, the photographs by
 * visit and body site, one photograph or up to four side by side, and calibrated measurements.
 *
 * Startup is the time-to-first-image path. This small entry module starts the session exchange at
 * once while Cornerstone (most of the code) loads and initialises in its own chunk; the timeline, then
 * the first photograph's metadata, are fetched meanwhile; then its one frame. Thumbnails wait for the
 * first image. The first rendered frame is marked `lucida:first-image` in the Performance timeline
 * (npm run bench reads it).
 */
import { checkStudy, getInstanceMetadata, getTimeline, type Photo, type Timeline } from './api';
import { ApiError } from './api-error';
import { formatDate, formatName, formatNhsNumber, formatSex, siteLabel } from './format';
import type { MouseTool, Pane, ViewAction } from './imaging';
import type { Measurements } from './measurements';
import { startSession, type Session } from './session';
import { MAX_COMPARE, TimelineView, renderDetails, type PhotoEntry } from './timeline';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

let timeline: TimelineView;
let measurements: Measurements;
let panes: Pane[] = [];
let activePane: Pane | undefined;
let session: Session;
let showing = Promise.resolve();
let imaging: typeof import('./imaging');

/** A whole-page message instead of the viewer: what happened, and what to do. */
function showMessage(title: string, text: string, kind: string): void {
  const box = $('message');
  box.querySelector('.message-title')!.textContent = title;
  box.querySelector('.message-text')!.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  $('workspace').hidden = true;
}

function messageFor(err: unknown): [string, string, string] {
  if (err instanceof ApiError) {
    if (err.code === 'NO_LAUNCH') return [err.title, err.detail ?? '', 'no-launch'];
    if (err.code === 'INVALID_LAUNCH') {
      return ['This link has expired or has already been used', 'Viewer links work once, for a few minutes. Open the photographs again from the patient\'s record.', 'expired'];
    }
    if (err.status === 401) return ['Your viewing session has ended', 'Open the photographs again from the patient\'s record.', 'expired'];
    if (err.status === 403) return ['You do not have access to these photographs', err.detail ?? 'Ask the Medical Photography department if you think you should.', 'denied'];
    if (err.status === 404) return ['Photograph not available', 'It does not exist or is not part of this patient\'s record.', 'not-found'];
    if (err.status === 429) return ['Too many requests', 'Wait a minute, then try again.', 'error'];
  }
  return ['The photographs could not be loaded', 'Try again in a moment. If it keeps happening, contact the IT service desk.', 'error'];
}

const status = (text: string) => { $('status').textContent = text; };

function renderBanner(t: Timeline, s: Session): void {
  const banner = $('banner');
  const set = (field: string, value: string) => { banner.querySelector(`[data-field="${field}"]`)!.textContent = value; };
  set('name', formatName(t.patient));
  set('nhs', formatNhsNumber(t.patient.id));
  set('birthDate', t.patient.birthDate ? formatDate(t.patient.birthDate) : 'Not recorded');
  set('sex', formatSex(t.patient.sex));
  set('user', s.user ? `Viewing as ${s.user.name ?? s.user.id}` : '');
  banner.hidden = false;
}

const labelOf = (e: PhotoEntry) => `${formatDate(e.date)} · ${siteLabel(e.photo)}`;

/** Shows these photographs (one, or up to four side by side); the first becomes the active pane. */
function show(entries: PhotoEntry[], onFirstRender?: () => void): Promise<void> {
  // One change of layout at a time: a click during loading waits for the one before.
  showing = showing.then(async () => {
    status('Loading…');
    try {
      panes = await imaging.showPhotos($('viewports'), entries.map((e) => e.photo), entries.map(labelOf), onFirstRender);
      for (const p of panes) p.element.addEventListener('pointerdown', () => activate(p));
      activate(panes[0]);
      timeline.markOpen(entries.map((e) => e.photo.sopInstanceUID));
      $('single').hidden = panes.length === 1;
      await measurements.show(panes, panes[0]);
      status(entries.length > 1 ? `Comparing ${entries.length} photographs` : '');
    } catch (err) {
      const [title, text] = messageFor(err);
      status(`${title}. ${text}`);
    }
  });
  return showing;
}

function activate(p: Pane): void {
  activePane = p;
  for (const other of panes) other.element.closest('.pane')?.classList.toggle('active', other === p);
  const entry = timeline.entryOf(p.photo.sopInstanceUID);
  if (entry) renderDetails($('photo-details'), entry);
  measurements.setActive(p);
}

function openPhoto(photo: Photo): void {
  const entry = timeline.entryOf(photo.sopInstanceUID);
  if (entry) void show([entry]);
}

function comparePrevious(): void {
  const entry = activePane && timeline.entryOf(activePane.photo.sopInstanceUID);
  if (!entry) return;
  const previous = timeline.previousOfSite(entry);
  if (!previous) {
    status(`No earlier photograph of ${siteLabel(entry.photo)}`);
    return;
  }
  void show([previous, entry]);
}

function compareSelected(): void {
  const picked = timeline.selection().map((p) => timeline.entryOf(p.sopInstanceUID)!).sort((a, b) => a.date.localeCompare(b.date));
  if (picked.length >= 2) void show(picked.slice(0, MAX_COMPARE));
}

function step(delta: number): void {
  if (!activePane) return;
  const i = timeline.entries.findIndex((e) => e.photo.sopInstanceUID === activePane!.photo.sopInstanceUID);
  const next = timeline.entries[i + delta];
  if (next) void show([next]);
}

function setTool(tool: MouseTool): void {
  if (!imaging) return;
  imaging.setPrimaryTool(tool);
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]')) b.setAttribute('aria-pressed', String(b.dataset.tool === tool));
}

function act(action: string): void {
  switch (action) {
    case 'compare-previous': comparePrevious(); return;
    case 'compare-selected': compareSelected(); return;
    case 'single': if (activePane) openPhoto(activePane.photo); return;
    case 'fullscreen': {
      const stage = $('viewports');
      if (document.fullscreenElement) void document.exitFullscreen(); else void stage.requestFullscreen?.();
      return;
    }
    default:
      if (activePane) imaging.applyViewAction(activePane, action as ViewAction);
  }
}

const KEYS: Record<string, () => void> = {
  p: () => setTool('Pan'), z: () => setTool('Zoom'), l: () => setTool('Length'), e: () => setTool('EllipticalROI'),
  a: () => setTool('Angle'), c: () => setTool('Calibration'),
  '+': () => act('zoom-in'), '=': () => act('zoom-in'), '-': () => act('zoom-out'), 0: () => act('fit'),
  r: () => act('rotate'), h: () => act('flip-h'), v: () => act('flip-v'), Escape: () => act('reset'), f: () => act('fullscreen'),
  '[': () => step(1), ']': () => step(-1), '?': () => ($('help-dialog') as HTMLDialogElement).showModal(),
};

function wireControls(): void {
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-tool]')) b.addEventListener('click', () => setTool(b.dataset.tool as MouseTool));
  for (const b of document.querySelectorAll<HTMLButtonElement>('[data-action]')) b.addEventListener('click', () => act(b.dataset.action!));
  document.addEventListener('keydown', (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if ((e.target as HTMLElement).closest('input, select, textarea, dialog')) return;
    const f = KEYS[e.key];
    if (f) { e.preventDefault(); f(); }
  });
  addEventListener('lucida:session-ended', () => showMessage(...messageFor(new ApiError(401, 'SESSION_ENDED', 'Session ended'))));
}

/** The photograph to open first: the one the link named, else the newest of the launched study, else the newest. */
async function firstEntry(open: { study?: string; sop?: string }): Promise<PhotoEntry | undefined> {
  if (open.sop) {
    const e = timeline.entryOf(open.sop);
    if (!e) throw new ApiError(404, 'NOT_FOUND', 'Photograph not available');
    return e;
  }
  const study = open.study ?? session.studyUIDs[0];
  if (study) {
    const e = timeline.entries.find((x) => x.photo.studyInstanceUID === study);
    if (e) return e;
    // Not in this patient's timeline: ask the archive (it answers 404 for anyone else's study).
    await checkStudy(study);
  }
  return timeline.entries[0];
}

async function main(): Promise<void> {
  wireControls();
  // Cornerstone and the measuring tools load and start while the session and timeline are fetched.
  const loading = Promise.all([import('./imaging'), import('./measurements')]).then(async ([im, me]) => {
    await im.initImaging();
    performance.mark('lucida:imaging-ready');
    return [im, me] as const;
  });
  loading.catch(() => undefined); // reported where it is awaited
  try {
    const started = await startSession();
    performance.mark('lucida:session');
    session = started.session;
    const data = await getTimeline();
    performance.mark('lucida:timeline');
    renderBanner(data, session);
    timeline = new TimelineView($('visits'), $('site-filter'), data, {
      open: openPhoto,
      selectionChanged: (selected) => { ($('compare-selected') as HTMLButtonElement).disabled = selected.length < 2; },
    });
    const first = await firstEntry(started.open);
    if (!first) {
      showMessage('No photographs yet', 'There are no clinical photographs for this patient in the archive.', 'empty');
      return;
    }
    void getInstanceMetadata(first.photo).catch(() => undefined); // fetched again (from cache) when shown
    const [im, me] = await loading;
    imaging = im;
    measurements = new me.Measurements({
      list: $('measurements'), calibration: $('calibration'), dialog: $('calibration-dialog'), lengthInput: $('calibration-mm'), status,
    });
    $('workspace').hidden = false;
    await show([first], () => {
      performance.mark('lucida:first-image');
      document.body.dataset.firstImage = String(Math.round(performance.now()));
      timeline.startThumbnails();
    });
    timeline.startThumbnails(); // also when the first image could not be shown
  } catch (err) {
    showMessage(...messageFor(err));
  }
}

void main();
