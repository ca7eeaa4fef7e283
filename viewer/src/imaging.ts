/**
 * Cornerstone3D for photographs: one rendering engine, one to four stack viewports (one photograph
 * each), the mouse tools (pan, zoom, length, ellipse area, angle, and a calibration line), and
 * synchronised zoom and pan while comparing.
 *
 * Pixels come over WADO-RS (`wadors:` image ids on /frames/1): the stored JPEG baseline frame is
 * sent as it is and decoded in Cornerstone's worker; YBR_FULL_422 becomes RGB there, once. The
 * instance's DICOM JSON (/metadata, one instance) is registered with the loader first: nothing
 * fetches more than the photographs on screen.
 */
import {
  Enums, RenderingEngine, init as initCore, utilities, type Types,
} from '@cornerstonejs/core';
import dicomImageLoader, { wadors } from '@cornerstonejs/dicom-image-loader';
import {
  AngleTool, EllipticalROITool, Enums as ToolEnums, LengthTool, PanTool, ToolGroupManager, ZoomTool,
  SynchronizerManager, addTool, init as initTools, synchronizers, utilities as toolUtilities,
} from '@cornerstonejs/tools';
import { getInstanceMetadata, instancePath, type Photo } from './api';
import { authorization } from './session';

/** The calibration line: a length drawn over the ruler in the photograph, then given its length in mm. */
export class CalibrationTool extends LengthTool {
  static override toolName = 'Calibration';
}

export type MouseTool = 'Pan' | 'Zoom' | 'Length' | 'EllipticalROI' | 'Angle' | 'Calibration';
const MOUSE_TOOLS: MouseTool[] = ['Pan', 'Zoom', 'Length', 'EllipticalROI', 'Angle', 'Calibration'];

const ENGINE_ID = 'lucida';
const TOOL_GROUP_ID = 'lucida-tools';
const SYNC_ID = 'lucida-zoom-pan';

let engine: RenderingEngine | undefined;

/** Starts Cornerstone (core, tools, the DICOM image loader with the session's bearer token). */
export async function initImaging(): Promise<void> {
  await initCore();
  initTools();
  dicomImageLoader.init({
    maxWebWorkers: Math.max(1, Math.min(2, navigator.hardwareConcurrency || 1)),
    // Every pixel request carries the session token (read at send time: it is refreshed).
    beforeSend: () => ({ Authorization: authorization() }),
  });
  for (const Tool of [PanTool, ZoomTool, LengthTool, EllipticalROITool, AngleTool, CalibrationTool]) addTool(Tool);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP_ID)!;
  for (const name of MOUSE_TOOLS) group.addTool(name);
  // Right button zooms, middle button pans, the wheel zooms, whatever the left button does.
  group.setToolActive('Zoom', { bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }, { mouseButton: ToolEnums.MouseBindings.Wheel }] });
  group.setToolActive('Pan', { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }, { mouseButton: ToolEnums.MouseBindings.Primary }] });
  // Measurements show what the server computed (measurements.ts), drawn by the tools.
  for (const name of ['Length', 'EllipticalROI', 'Angle', 'Calibration']) group.setToolPassive(name);
  engine = new RenderingEngine(ENGINE_ID);
}

/**
 * Makes `tool` the left-button tool. Cornerstone merges a tool's bindings rather than replacing
 * them: the previous left-button tool is set passive, which takes only its primary binding away
 * (zoom keeps the right button and the wheel, pan the middle button; drawing tools stay selectable).
 */
export function setPrimaryTool(tool: MouseTool): void {
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP_ID)!;
  const current = group.getActivePrimaryMouseButtonTool();
  if (current === tool) return;
  if (current) group.setToolPassive(current);
  group.setToolActive(tool, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
}

export const imageIdOf = (p: Photo) => `wadors:${location.origin}${instancePath(p)}/frames/1`;

/** One viewport on screen: its element, the photograph in it, and Cornerstone's viewport. */
export interface Pane {
  id: string;
  element: HTMLDivElement;
  photo: Photo;
  imageId: string;
  viewport: Types.IStackViewport;
}

/**
 * Shows `photos` (1 to 4) side by side in `container`, replacing what was there. Resolves when
 * every pane has rendered its photograph once; `onFirstRender` runs at the first frame of the first
 * pane (the time-to-first-image mark).
 */
export async function showPhotos(container: HTMLElement, photos: Photo[], labels: string[], onFirstRender?: () => void): Promise<Pane[]> {
  if (!engine) throw new Error('imaging not initialised');
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP_ID)!;
  // Synchronisers are global by id: the previous comparison's goes with its viewports.
  if (SynchronizerManager.getSynchronizer(SYNC_ID)) SynchronizerManager.destroySynchronizer(SYNC_ID);
  for (const vp of engine.getViewports()) {
    group.removeViewports(ENGINE_ID, vp.id);
    engine.disableElement(vp.id);
  }
  container.replaceChildren();
  container.dataset.count = String(photos.length);

  const panes = photos.map((photo, i): Omit<Pane, 'viewport'> => {
    const wrapper = document.createElement('figure');
    wrapper.className = 'pane';
    const element = document.createElement('div');
    element.className = 'viewport';
    element.tabIndex = 0;
    element.dataset.sop = photo.sopInstanceUID;
    element.setAttribute('role', 'img');
    element.setAttribute('aria-label', `Photograph: ${labels[i]}`);
    element.addEventListener('contextmenu', (e) => e.preventDefault());
    const caption = document.createElement('figcaption');
    caption.className = 'pane-label';
    caption.textContent = labels[i];
    wrapper.append(element, caption);
    container.append(wrapper);
    return { id: `pane-${i}`, element, photo, imageId: imageIdOf(photo) };
  });

  engine.setViewports(panes.map((p) => ({
    viewportId: p.id, type: Enums.ViewportType.STACK, element: p.element,
    defaultOptions: { background: [0.07, 0.07, 0.08] as Types.Point3 },
  })));
  for (const p of panes) group.addViewport(p.id, ENGINE_ID);

  let first = true;
  const shown = await Promise.all(panes.map(async (p) => {
    const viewport = engine!.getViewport(p.id) as Types.IStackViewport;
    const rendered = new Promise<void>((resolve) => {
      const onRendered = () => {
        p.element.removeEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
        p.element.dataset.rendered = 'true';
        if (first) { first = false; onFirstRender?.(); }
        resolve();
      };
      p.element.addEventListener(Enums.Events.IMAGE_RENDERED, onRendered);
    });
    if (!wadors.metaDataManager.get(p.imageId)) {
      wadors.metaDataManager.add(p.imageId, await getInstanceMetadata(p.photo) as never);
    }
    await viewport.setStack([p.imageId]);
    viewport.render();
    await rendered;
    return { ...p, viewport };
  }));

  if (shown.length > 1) {
    const sync = synchronizers.createZoomPanSynchronizer(SYNC_ID);
    for (const p of shown) sync.add({ renderingEngineId: ENGINE_ID, viewportId: p.id });
  }
  return shown;
}

export type ViewAction = 'fit' | 'zoom-in' | 'zoom-out' | 'rotate' | 'flip-h' | 'flip-v' | 'reset';

/** A view change on one pane (rotate and flip are per photograph; zoom and pan follow the synchroniser). */
export function applyViewAction(pane: Pane, action: ViewAction): void {
  const vp = pane.viewport;
  switch (action) {
    case 'fit': vp.resetCamera({ resetPan: true, resetZoom: true }); break;
    case 'zoom-in': vp.setZoom(vp.getZoom() * 1.25); break;
    case 'zoom-out': vp.setZoom(vp.getZoom() / 1.25); break;
    case 'rotate': vp.setViewPresentation({ rotation: ((vp.getViewPresentation().rotation ?? 0) + 90) % 360 }); break;
    case 'flip-h': vp.setViewPresentation({ flipHorizontal: !vp.getViewPresentation().flipHorizontal }); break;
    case 'flip-v': vp.setViewPresentation({ flipVertical: !vp.getViewPresentation().flipVertical }); break;
    case 'reset':
      vp.setViewPresentation({ rotation: 0, flipHorizontal: false, flipVertical: false });
      vp.resetCamera();
      vp.resetProperties();
      break;
  }
  vp.render();
}

/** Applies a ruler calibration to a photograph: `mmPerPixel` millimetres per image pixel (square pixels). */
export function applyCalibration(imageId: string, mmPerPixel: number): void {
  if (!engine) return;
  // Cornerstone divides world (pixel) distances by `scale`: pixels per millimetre.
  toolUtilities.calibrateImageSpacing(imageId, engine, { type: Enums.CalibrationTypes.USER, scale: 1 / mmPerPixel });
}

/** Image pixel coordinates (column, row) of a world point on `imageId`. */
export function toImagePoint(imageId: string, world: Types.Point3): number[] {
  const [x, y] = utilities.worldToImageCoords(imageId, world) ?? [NaN, NaN];
  return [round3(x), round3(y)];
}

/** World coordinates of an image pixel point on `imageId`. */
export function toWorldPoint(imageId: string, point: number[]): Types.Point3 {
  return utilities.imageToWorldCoords(imageId, [point[0], point[1]]) as Types.Point3;
}

const round3 = (v: number) => Math.round(v * 1000) / 1000;

