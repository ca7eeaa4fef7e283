import { LucidaError } from '../../services/core/errors.js';

/** Asserts that `e` is a LucidaError with this catalogue code (and message, if given); returns it. */
function asLucidaError(code: string, e: unknown, message?: RegExp | string): LucidaError {
  expect(e).toBeInstanceOf(LucidaError);
  expect((e as LucidaError).code).toBe(code);
  if (message) expect((e as Error).message).toMatch(message);
  return e as LucidaError;
}

/** Asserts that `fn` throws a LucidaError with this catalogue code (and message, if given); returns the error. */
export function expectLucidaError(code: string, fn: () => unknown, message?: RegExp | string): LucidaError {
  try {
    fn();
  } catch (e) {
    return asLucidaError(code, e, message);
  }
  throw new Error(`expected ${code}`);
}

/** A problem a validator found at a JSON Pointer of the document (LucidaError `extra.errors`). */
export interface FieldError { path: string; message: string }

/**
 * The errors `fn` is refused with, [] when it returns: it must either return or throw an
 * INVALID_METADATA LucidaError listing them (`extra.errors`, an array).
 */
export function metadataErrorsOf(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (e) {
    const errors = asLucidaError('INVALID_METADATA', e).extra?.errors;
    expect(errors).toEqual(expect.any(Array));
    return errors as FieldError[];
  }
  return [];
}

/** Asserts that `p` rejects with a LucidaError with this catalogue code (and message, if given). */
export async function expectLucidaRejection(code: string, p: Promise<unknown>, message?: RegExp): Promise<void> {
  asLucidaError(code, await p.then(() => undefined, (err: unknown) => err), message);
}

/** Asserts that `p` rejects, whatever with, and returns the reason (e.g. to check it is the same error elsewhere). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  const settled = await p.then(() => ({ rejected: false as const }), (reason: unknown) => ({ rejected: true as const, reason }));
  if (!settled.rejected) throw new Error('expected a rejection');
  return settled.reason;
}

/** {@link expectLucidaRejection}, returning the error. */
export async function lucidaRejection(code: string, p: Promise<unknown>, message?: RegExp): Promise<LucidaError> {
  return asLucidaError(code, await rejectionOf(p), message);
}
