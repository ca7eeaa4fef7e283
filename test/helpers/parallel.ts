/** Bounded concurrency for tests and the benchmark: many requests, at most so many in flight. */

/**
 * Runs `fn` over `items`, at most `limit` at a time, each started as soon as a slot frees; resolves
 * with the results in input order, or rejects with the first error (the calls already started run on).
 */
export async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}
