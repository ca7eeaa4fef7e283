/**
 * Collects every problem found in a capture's metadata, so the client hears about all of them at
 * once, then throws one LucidaError INVALID_METADATA with `extra.errors` (problem+json member).
 * Messages name fields and codes, never values that could identify the patient (names, NHS numbers,
 * dates of birth).
 */
import { LucidaError } from '../errors.js';

export interface MetadataError {
  /** Where: a JSON pointer into the submitted document ("/groups/0/bodySite/code", "/00100020"). */
  path: string;
  message: string;
}

export class ValidationErrors {
  readonly list: MetadataError[] = [];
  /** path + message of what is listed: a hostile document with thousands of problems stays linear. */
  private readonly seen = new Set<string>();

  add(path: string, message: string): void {
    const key = `${path}\u0000${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.list.push({ path, message });
  }

  get empty(): boolean {
    return this.list.length === 0;
  }

  /** Throws INVALID_METADATA listing every problem, if there are any. */
  throwIfAny(): void {
    if (this.empty) return;
    const detail = this.list.length === 1 ? this.list[0].message : `${this.list.length} problems; see errors`;
    throw new LucidaError('INVALID_METADATA', detail, { errors: this.list });
  }
}

/** "/groups/0/bodySite/code" → "groups[0].bodySite.code", the way people write a field in a message. */
export function fieldName(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const part = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(part) ? `[${part}]` : out ? `.${part}` : part;
  }
  return out || 'metadata';
}
