/**
 * Calibration and measurements, persisted on the server (GET/POST/DELETE
 * /api/instances/{sop}/annotations) and drawn by Cornerstone's tools.
 *
 * - A line drawn with the Calibration tool over the ruler in the photograph, given its length in
 *   millimetres, calibrates that photograph (photographs have no Pixel Spacing).
 * - Length, ellipse area and angle are sent as image pixel coordinates when drawn; the server
 *   computes their values with the photograph's calibration and keeps them with the record. What
 *   is listed (and compared over time) is the server's value.
 * - Saved measurements are locked on screen: a measurement in the record is not edited by dragging
 *   a handle; it is removed (the server keeps who removed it and when) and drawn again.
 */
import { eventTarget, type Types } from '@cornerstonejs/core';
import { AngleTool, EllipticalROITool, Enums as ToolEnums, LengthTool, annotation as csAnnotation } from '@cornerstonejs/tools';
import {
  deleteAnnotation, getAnnotations, postAnnotation, type Annotations, type Calibration, type Measurement, type MeasurementKind,
} from './api';
import { ApiError } from './api-error';
import { formatDate, formatValue } from './format';
import { applyCalibration, toImagePoint, toWorldPoint, type Pane } from './imaging';

const KIND_OF_TOOL: Record<string, MeasurementKind> = { Length: 'length', EllipticalROI: 'ellipse', Angle: 'angle' };
const TOOL_OF_KIND: Record<string, { hydrate: (viewportId: string, points: Types.Point3[], options: object) => void }> = {
  length: LengthTool as never, ellipse: EllipticalROITool as never, angle: AngleTool as never,
};
/** Every tool that draws on a photograph (what a reload clears before drawing the saved records). */
const DRAWING_TOOLS = [...Object.keys(KIND_OF_TOOL), 'Calibration'];
const KIND_TEXT: Record<string, string> = { length: 'Length', ellipse: 'Area (ellipse)', freehand: 'Area (freehand)', angle: 'Angle' };

/** What this module reads of a Cornerstone annotation that was just drawn. */
interface DrawnAnnotation {
  annotationUID: string;
  metadata?: { toolName?: string; referencedImageId?: string };
  data: { handles: { points: Types.Point3[] } };
}

export interface MeasurementUi {
  list: HTMLOListElement;
  calibration: HTMLElement;
  dialog: HTMLDialogElement;
  lengthInput: HTMLInputElement;
  status: (text: string) => void;
}

/** Keeps each pane's annotations in step with the server. */
export class Measurements {
  private panes: Pane[] = [];
  private active: Pane | undefined;
  private readonly records = new Map<string, Annotations>();
  /** Annotation UIDs on screen that are saved records (hydrated from or confirmed by the server). */
  private readonly saved = new Set<string>();

  constructor(private readonly ui: MeasurementUi) {
    eventTarget.addEventListener(ToolEnums.Events.ANNOTATION_COMPLETED, (evt: Event) => {
      void this.completed((evt as CustomEvent).detail.annotation);
    });
  }

  /** The panes now on screen: loads and draws each one's calibration and measurements. */
  async show(panes: Pane[], active: Pane): Promise<void> {
    this.panes = panes;
    this.active = active;
    await Promise.all(panes.map((p) => this.reload(p)));
    this.renderList();
  }

  setActive(pane: Pane): void {
    this.active = pane;
    this.renderList();
  }

  private paneOf(imageId?: string): Pane | undefined {
    return this.panes.find((p) => p.imageId === imageId);
  }

  /** Fetches a pane's record, applies its calibration and draws its measurements (locked). */
  private async reload(pane: Pane): Promise<void> {
    const record = await getAnnotations(pane.photo.sopInstanceUID);
    this.records.set(pane.photo.sopInstanceUID, record);
    for (const name of DRAWING_TOOLS) {
      for (const a of csAnnotation.state.getAnnotations(name, pane.element) ?? []) this.forget(a);
    }
    // A photograph is calibrated once and then only recalibrated: never back to uncalibrated.
    if (record.calibration) applyCalibration(pane.imageId, record.calibration.mmPerPixel);
    for (const m of record.measurements) this.draw(pane, m);
    pane.viewport.render();
  }

  private forget(a: { annotationUID?: string }): void {
    if (!a.annotationUID) return;
    csAnnotation.state.removeAnnotation(a.annotationUID);
    this.saved.delete(a.annotationUID);
  }

  private draw(pane: Pane, m: Measurement): void {
    const tool = TOOL_OF_KIND[m.kind];
    if (!tool) return; // freehand areas recorded elsewhere are listed, not drawn
    this.saved.add(m.id);
    tool.hydrate(pane.id, m.points.map((pt) => toWorldPoint(pane.imageId, pt)), { annotationUID: m.id, referencedImageId: pane.imageId });
    csAnnotation.locking.setAnnotationLocked(m.id, true);
  }

  /** A drawing finished: a calibration asks for its length; a measurement is saved. */
  private async completed(a: DrawnAnnotation): Promise<void> {
    const uid: string = a.annotationUID;
    if (this.saved.has(uid)) return;
    const pane = this.paneOf(a.metadata?.referencedImageId);
    const toolName = a.metadata?.toolName ?? '';
    if (!pane) return;
    const points = a.data.handles.points.map((w) => toImagePoint(pane.imageId, w));
    csAnnotation.state.removeAnnotation(uid); // the saved record replaces what was drawn
    pane.viewport.render();
    try {
      if (toolName === 'Calibration') {
        const lengthMm = await this.askLength();
        if (lengthMm === undefined) return;
        await postAnnotation<Calibration>(pane.photo.sopInstanceUID, { kind: 'calibration', points, lengthMm });
        this.ui.status(`Calibrated: ${lengthMm} mm`);
      } else {
        const kind = KIND_OF_TOOL[toolName];
        if (!kind) return;
        const m = await postAnnotation<Measurement>(pane.photo.sopInstanceUID, { kind, points });
        this.ui.status(`${KIND_TEXT[m.kind]} saved: ${formatValue(m.value, m.unit)}`);
      }
      await this.reload(pane);
      this.renderList();
    } catch (err) {
      this.ui.status(err instanceof ApiError ? `Not saved: ${err.detail ?? err.title}` : 'Not saved: the server could not be reached');
    }
  }

  /** Opens the calibration dialog; resolves with the length in mm, or undefined when cancelled. */
  private askLength(): Promise<number | undefined> {
    const { dialog, lengthInput } = this.ui;
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => {
        const mm = Number(lengthInput.value);
        resolve(dialog.returnValue === 'ok' && mm > 0 ? mm : undefined);
      }, { once: true });
      dialog.returnValue = '';
      dialog.showModal();
      lengthInput.select();
    });
  }

  /** The active photograph's calibration and measurements, as the server computed them. */
  private renderList(): void {
    const pane = this.active;
    const record = pane && this.records.get(pane.photo.sopInstanceUID);
    this.ui.calibration.replaceChildren(describeCalibration(record?.calibration ?? null));
    this.ui.calibration.dataset.calibrated = String(Boolean(record?.calibration));
    this.ui.list.replaceChildren(...(record?.measurements ?? []).map((m, i) => {
      const li = document.createElement('li');
      li.dataset.id = m.id;
      li.dataset.kind = m.kind;
      li.dataset.value = String(m.value);
      li.dataset.unit = m.unit;
      const text = document.createElement('span');
      text.className = 'measurement-text';
      text.textContent = `${i + 1}. ${KIND_TEXT[m.kind] ?? m.kind}: ${formatValue(m.value, m.unit)}`;
      const who = document.createElement('span');
      who.className = 'measurement-who';
      who.textContent = `${m.createdBy}, ${formatDate(m.createdAt)}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.textContent = 'Remove';
      remove.setAttribute('aria-label', `Remove measurement ${i + 1}`);
      remove.addEventListener('click', () => { void this.remove(pane!, m); });
      li.append(text, who, remove);
      return li;
    }));
  }

  private async remove(pane: Pane, m: Measurement): Promise<void> {
    try {
      await deleteAnnotation(pane.photo.sopInstanceUID, m.id);
      await this.reload(pane);
      this.renderList();
      this.ui.status('Measurement removed');
    } catch (err) {
      this.ui.status(err instanceof ApiError ? `Not removed: ${err.detail ?? err.title}` : 'Not removed: the server could not be reached');
    }
  }
}

function describeCalibration(c: Calibration | null): string {
  if (!c) return 'Not calibrated: measurements are in pixels. Draw over the ruler with Calibrate.';
  return `Calibrated on a ${c.lengthMm} mm ruler line (${c.mmPerPixel.toPrecision(3)} mm per pixel), by ${c.createdBy}, ${formatDate(c.createdAt)}.`;
}
