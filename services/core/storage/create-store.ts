/**
 * The configured ObjectStore: S3 (MinIO) when S3_ENDPOINT is set, else the filesystem store under
 * DATA_DIR/objects. The one place that chooses; the entry points call it.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { FsObjectStore, type StoreOwner } from './fs-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/**
 * For a running process: initialised (the bucket checked or created; temporary files of dead
 * processes removed). `owner` names the process, so its temporary files can be told from others'.
 */
export async function createObjectStore(config: Config, log?: Logger, owner?: StoreOwner): Promise<ObjectStore> {
  if (config.s3) {
    const store = new S3ObjectStore(config.s3, { log: log?.child({ component: 'object-store' }) });
    await store.init();
    log?.info({ endpoint: new URL(config.s3.endpoint).host, bucket: config.s3.bucket }, 'object store: S3');
    return store;
  }
  const store = new FsObjectStore(path.join(config.dataDir, 'objects'), owner);
  await store.init();
  return store;
}

/**
 * For a one-off command that only reads (verify-store), beside running processes: changes nothing
 * (no bucket is created, the filesystem store's temporary area is left alone), but checks the
 * bucket is there and the credentials work.
 */
export async function openObjectStore(config: Config): Promise<ObjectStore> {
  if (!config.s3) return new FsObjectStore(path.join(config.dataDir, 'objects'));
  const store = new S3ObjectStore({ ...config.s3, createBucket: false });
  await store.init();
  return store;
}
