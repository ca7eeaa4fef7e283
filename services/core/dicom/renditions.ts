/**
 * Cached renderings (WADO-RS /rendered and /thumbnail) are stored in the object store under a name
 * that spells out their parameters. The route reads them and the `derive` job writes the two
 * standard ones ahead of time, so both must name them the same way: here.
 */
import type { RenderOptions } from './render.js';

/** Render options with the quality made explicit (it names the cached variant). */
export type RenditionParams = RenderOptions & { quality: number };

/** The two renderings every image gets at ingest (the `derive` job) and their request defaults. */
export const STANDARD_RENDITIONS = {
  /** `/thumbnail` (PS3.18 §10.4.1.1.6): fits 256×256, JPEG quality 80. */
  thumbnail: { format: 'jpeg', quality: 80, viewport: { width: 256, height: 256 } },
  /** `/rendered` without parameters: full size, JPEG quality 90. */
  rendered: { format: 'jpeg', quality: 90 },
} as const satisfies Record<string, RenditionParams>;

/** Object-store variant name of a rendering of frame `frame` (1-based) with these parameters. */
export function renditionVariant(frame: number, p: RenditionParams): string {
  const size = p.viewport ? `${p.viewport.width}x${p.viewport.height}` : 'full';
  return `rendered-f${frame}-q${p.quality}-${size}.${p.format === 'png' ? 'png' : 'jpg'}`;
}
