/**
 * The patient's photographs by visit (date), then body site: thumbnails loaded only as they scroll
 * into view (IntersectionObserver; each one a small authenticated request), a body-site filter, a
 * tick box per photograph to compare up to four, and the details panel of the photograph shown.
 */
import { thumbnailUrl, type Photo, type Timeline, type TimelineStudy } from './api';
import {
  CONSENT_TEXT, codeText, formatDate, formatTime, siteKey, siteLabel, visitDate,
} from './format';

export const MAX_COMPARE = 4;

export interface TimelineEvents {
  open(photo: Photo): void;
  selectionChanged(selected: Photo[]): void;
}

/** A photograph with the facts the viewer shows beside it. */
export interface PhotoEntry { photo: Photo; study?: TimelineStudy; date: string }

export class TimelineView {
  readonly entries: PhotoEntry[];
  private readonly selected = new Set<string>();
  private readonly observer: IntersectionObserver;
  private readonly thumbs = new Map<string, HTMLButtonElement>();
  /** Thumbnails wait until the first photograph is on screen: they must not queue ahead of its frame. */
  private thumbnailsStarted = false;

  constructor(private readonly list: HTMLOListElement, private readonly filter: HTMLSelectElement,
    timeline: Timeline, private readonly events: TimelineEvents) {
    const studies = new Map(timeline.studies.map((s) => [s.studyInstanceUID, s]));
    this.entries = timeline.photos.map((photo) => {
      const study = studies.get(photo.studyInstanceUID);
      return { photo, study, date: visitDate(photo, study?.date) };
    });
    this.observer = new IntersectionObserver((seen) => {
      if (!this.thumbnailsStarted) return;
      for (const e of seen) if (e.isIntersecting) this.loadThumb(e.target as HTMLButtonElement);
    }, { root: list.parentElement, rootMargin: '200px' });
    this.fillFilter();
    this.filter.addEventListener('change', () => this.render());
    this.render();
  }

  /** Starts loading the thumbnails in view (and, as they scroll into view, the others). */
  startThumbnails(): void {
    if (this.thumbnailsStarted) return;
    this.thumbnailsStarted = true;
    for (const button of this.thumbs.values()) {
      this.observer.unobserve(button);
      this.observer.observe(button); // observing again reports whether it is in view now
    }
  }

  entryOf(sop: string): PhotoEntry | undefined {
    return this.entries.find((e) => e.photo.sopInstanceUID === sop);
  }

  /** The newest photograph of the same site and side taken on an earlier day than `entry`. */
  previousOfSite(entry: PhotoEntry): PhotoEntry | undefined {
    const key = siteKey(entry.photo);
    return this.entries
      .filter((e) => siteKey(e.photo) === key && e.date && e.date < entry.date)
      .sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : 0))[0];
  }

  /** Marks the photograph on screen. */
  markOpen(sops: string[]): void {
    for (const [sop, el] of this.thumbs) el.setAttribute('aria-current', sops.includes(sop) ? 'true' : 'false');
  }

  selection(): Photo[] {
    return this.entries.filter((e) => this.selected.has(e.photo.sopInstanceUID)).map((e) => e.photo);
  }

  private fillFilter(): void {
    const sites = new Map<string, string>();
    for (const e of this.entries) sites.set(siteKey(e.photo), siteLabel(e.photo));
    for (const [key, label] of [...sites].sort((a, b) => a[1].localeCompare(b[1]))) {
      this.filter.append(new Option(label, key));
    }
  }

  private render(): void {
    const site = this.filter.value;
    const shown = this.entries.filter((e) => !site || siteKey(e.photo) === site);
    const byDate = new Map<string, PhotoEntry[]>();
    for (const e of shown) byDate.set(e.date, [...(byDate.get(e.date) ?? []), e]);
    this.observer.disconnect();
    this.thumbs.clear();
    this.list.replaceChildren(...[...byDate].map(([date, entries]) => this.visit(date, entries)));
  }

  private visit(date: string, entries: PhotoEntry[]): HTMLLIElement {
    const li = document.createElement('li');
    li.className = 'visit';
    li.dataset.date = date;
    const h = document.createElement('h2');
    h.textContent = formatDate(date);
    const sites = new Map<string, PhotoEntry[]>();
    for (const e of entries) sites.set(siteLabel(e.photo), [...(sites.get(siteLabel(e.photo)) ?? []), e]);
    const groups = [...sites].map(([label, group]) => {
      const section = document.createElement('section');
      section.className = 'site';
      const h3 = document.createElement('h3');
      h3.textContent = label;
      const ul = document.createElement('ul');
      ul.className = 'thumbs';
      ul.append(...group.map((e) => this.thumb(e)));
      section.append(h3, ul);
      return section;
    });
    li.append(h, ...groups);
    return li;
  }

  private thumb(e: PhotoEntry): HTMLLIElement {
    const { photo } = e;
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'thumb';
    button.dataset.sop = photo.sopInstanceUID;
    button.dataset.date = e.date;
    button.dataset.site = siteKey(photo);
    const view = codeText(photo.view);
    const label = [siteLabel(photo), view, formatDate(e.date), formatTime(photo.acquired)].filter(Boolean).join(', ');
    button.setAttribute('aria-label', `Open photograph: ${label}`);
    button.title = label;
    const img = document.createElement('img');
    img.alt = '';
    img.width = 96;
    img.height = 72;
    const caption = document.createElement('span');
    caption.className = 'thumb-caption';
    caption.textContent = [view || photo.seriesDescription, formatTime(photo.acquired)].filter(Boolean).join(' · ');
    button.append(img, caption);
    const badges = document.createElement('span');
    badges.className = 'badges';
    const consent = e.study?.consent;
    if (consent) badges.append(badge(consent.status === 'withdrawn' ? 'Consent withdrawn' : CONSENT_TEXT[consent.level], `consent-${consent.status === 'withdrawn' ? 'withdrawn' : consent.level}`));
    for (const flag of qaFlags(photo)) badges.append(badge(flag, 'qa'));
    if (photo.annotations?.measurements) badges.append(badge(`${photo.annotations.measurements} measured`, 'measured'));
    button.append(badges);
    button.addEventListener('click', () => this.events.open(photo));

    const pick = document.createElement('input');
    pick.type = 'checkbox';
    pick.className = 'compare-pick';
    pick.checked = this.selected.has(photo.sopInstanceUID);
    pick.setAttribute('aria-label', `Compare: ${label}`);
    pick.addEventListener('change', () => {
      if (pick.checked && this.selected.size >= MAX_COMPARE) {
        pick.checked = false;
        return;
      }
      if (pick.checked) this.selected.add(photo.sopInstanceUID); else this.selected.delete(photo.sopInstanceUID);
      this.events.selectionChanged(this.selection());
    });
    li.append(button, pick);
    this.thumbs.set(photo.sopInstanceUID, button);
    this.observer.observe(button);
    return li;
  }

  private loadThumb(button: HTMLButtonElement): void {
    this.observer.unobserve(button);
    const entry = this.entryOf(button.dataset.sop!);
    const img = button.querySelector('img');
    if (!entry || !img || img.src) return;
    thumbnailUrl(entry.photo).then((url) => { img.src = url; }, () => { img.alt = 'Thumbnail not available'; button.classList.add('thumb-missing'); });
  }
}

function badge(text: string, kind: string): HTMLSpanElement {
  const span = document.createElement('span');
  span.className = `badge badge-${kind}`;
  span.textContent = text;
  return span;
}

const QA_TEXT: Record<string, string> = {
  BLURRED: 'Blurred', UNDEREXPOSED: 'Underexposed', OVEREXPOSED: 'Overexposed', LOW_RESOLUTION: 'Low resolution',
};

/** The image-quality flags the derive job raised, for people. */
export function qaFlags(p: Photo): string[] {
  const qa = p.qa as { flags?: { code: string }[]; undecodable?: string } | null | undefined;
  if (!qa) return [];
  const flags = (qa.flags ?? []).map((f) => QA_TEXT[f.code] ?? f.code);
  if (qa.undecodable) flags.push('Damaged image');
  return flags;
}

/** The details panel of one photograph. */
export function renderDetails(dl: HTMLElement, e: PhotoEntry): void {
  const { photo, study } = e;
  const rows: [string, string][] = [
    ['Taken', [formatDate(e.date), formatTime(photo.acquired)].filter(Boolean).join(' at ')],
    ['Body site', siteLabel(photo)],
    ['View', codeText(photo.view) || 'Not recorded'],
    ['Consent', study?.consent
      ? `${CONSENT_TEXT[study.consent.level]}${study.consent.status === 'withdrawn' ? ' (withdrawn)' : ''}`
      : 'Not recorded'],
    // The archive sends names formatted for people (services/core/timeline/format.ts).
    ['Photographer', photo.photographer || 'Not recorded'],
    ['Site', photo.institution || 'Not recorded'],
    ['Camera', [photo.camera?.manufacturer, photo.camera?.model].filter(Boolean).join(' ') || 'Not recorded'],
    ['Image quality', qaFlags(photo).join(', ') || (photo.qa ? 'No problems found' : 'Not checked yet')],
    ['Size', photo.columns && photo.rows ? `${photo.columns} × ${photo.rows} pixels` : ''],
    ['Study', study?.description || ''],
  ];
  dl.replaceChildren(...rows.filter(([, v]) => v).flatMap(([k, v]) => {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    dd.dataset.field = k.toLowerCase().replace(/\s+/g, '-');
    return [dt, dd];
  }));
}
