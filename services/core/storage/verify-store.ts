/**
 * verify-store (`npm run verify-store`): does the object store hold what the index says, and only that?
 *   1. every stored instance's object and every kept original upload exists, with the size and
 *      (unless `hash: false`) the SHA-256 recorded at ingest: else it is reported `missing`,
 *      `wrongSize` or `wrongHash`;
 *   2. every object in the store is accounted for by the index (an instance row, stored or pending;
 *      a rendition of a stored instance; a kept upload): else it is `unexpected`.
 * Both passes stream: the index page by page, the store's listing in batches, objects hashed as they
 * are read, a few at a time. Read only: it repairs nothing (an unexpected object may be a store in
 * flight that committed after the listing; reconciliation and an operator decide).
 */
import { sha256Hex } from '../hash.js';
import type { ExpectedObject, PostgresInventory } from '../index/postgres-inventory.js';
import type { ObjectStore } from './object-store.js';

export interface StoreReport {
  /** Objects the index expects, and how many of them were whole. */
  expected: number; ok: number;
  /** Objects in the store, and bytes in them. */
  listed: number; listedBytes: number;
  /** Pending instance rows (stores in flight, or abandoned and awaiting reconciliation). */
  pendingRows: number;
  missing: string[];
  wrongSize: { key: string; expected: number; actual: number }[];
  wrongHash: string[];
  unexpected: string[];
  /** Whether contents were hashed (else sizes only). */
  hashed: boolean;
}

export const storeIsWhole = (r: StoreReport): boolean =>
  r.missing.length === 0 && r.wrongSize.length === 0 && r.wrongHash.length === 0 && r.unexpected.length === 0;

export interface VerifyOptions {
  /** Hash every object (default) or compare sizes only (fast: one HEAD per object on S3). */
  hash?: boolean;
  /** Objects checked at once. */
  concurrency?: number;
  /** Called after every 1,000 objects checked in the first pass. */
  onProgress?: (checked: number) => void;
}

export async function verifyStore(inventory: PostgresInventory, store: ObjectStore, opts: VerifyOptions = {}): Promise<StoreReport> {
  const hash = opts.hash ?? true;
  const report: StoreReport = {
    expected: 0, ok: 0, listed: 0, listedBytes: 0, pendingRows: 0,
    missing: [], wrongSize: [], wrongHash: [], unexpected: [], hashed: hash,
  };

  // Pass 1: index -> store, `concurrency` objects in flight. The first error (an unreachable store
  // or database) ends the run: a partial report would read as a clean one.
  const inFlight = new Set<Promise<void>>();
  let failure: { err: unknown } | undefined;
  let checked = 0;
  for await (const obj of inventory.expected()) {
    if (failure) break;
    report.expected++;
    const tracked: Promise<void> = checkObject(store, obj, hash, report)
      .catch((err: unknown) => { failure ??= { err }; })
      .finally(() => {
        inFlight.delete(tracked);
        if (++checked % 1000 === 0) opts.onProgress?.(checked);
      });
    inFlight.add(tracked);
    if (inFlight.size >= (opts.concurrency ?? 8)) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (failure) throw failure.err;

  // Pass 2: store -> index, in batches.
  let batch: string[] = [];
  const flush = async () => {
    const accounted = await inventory.accounted(batch);
    report.unexpected.push(...batch.filter((k) => !accounted.has(k)));
    batch = [];
  };
  for await (const obj of store.list('')) {
    report.listed++;
    report.listedBytes += obj.sizeBytes;
    batch.push(obj.key);
    if (batch.length >= 500) await flush();
  }
  await flush();
  report.pendingRows = await inventory.pendingRows();
  for (const list of [report.missing, report.wrongHash, report.unexpected]) list.sort();
  report.wrongSize.sort((a, b) => a.key.localeCompare(b.key));
  return report;
}

async function checkObject(store: ObjectStore, obj: ExpectedObject, hash: boolean, report: StoreReport): Promise<void> {
  const found = await store.exists(obj.key);
  if (!found) {
    report.missing.push(obj.key);
  } else if (found.sizeBytes !== obj.sizeBytes) {
    report.wrongSize.push({ key: obj.key, expected: obj.sizeBytes, actual: found.sizeBytes });
  } else if (hash && (await sha256Hex(await store.get(obj.key))) !== obj.sha256) {
    report.wrongHash.push(obj.key);
  } else {
    report.ok++;
  }
}
