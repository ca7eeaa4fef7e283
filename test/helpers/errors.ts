import { LucidaError } from '../../services/core/errors.js';

/** Asserts that `fn` throws a LucidaError with this catalogue code (and message, if given). */
export function expectLucidaError(code: string, fn: () => unknown, message?: RegExp | string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LucidaError);
    expect((e as LucidaError).code).toBe(code);
    if (message) expect((e as Error).message).toMatch(message);
    return;
  }
  throw new Error(`expected ${code}`);
}

/** Asserts that `p` rejects with a LucidaError with this catalogue code (and message, if given). */
export async function expectLucidaRejection(code: string, p: Promise<unknown>, message?: RegExp): Promise<void> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(LucidaError);
  expect((e as LucidaError).code).toBe(code);
  if (message) expect((e as Error).message).toMatch(message);
}

/** Asserts that `p` rejects, whatever with, and returns the reason (e.g. to check it is the same error elsewhere). */
export async function rejectionOf(p: Promise<unknown>): Promise<unknown> {
  const settled = await p.then(() => ({ rejected: false as const }), (reason: unknown) => ({ rejected: true as const, reason }));
  if (!settled.rejected) throw new Error('expected a rejection');
  return settled.reason;
}

/** {@link expectLucidaRejection}, returning the error. */
export async function lucidaRejection(code: string, p: Promise<unknown>, message?: RegExp): Promise<LucidaError> {
  const e = await rejectionOf(p);
  expect(e).toBeInstanceOf(LucidaError);
  expect((e as LucidaError).code).toBe(code);
  if (message) expect((e as Error).message).toMatch(message);
  return e as LucidaError;
}
