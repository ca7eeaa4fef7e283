/**
 * A local S3 server for tests: s3rver on a free loopback port, objects in a temporary directory.
 * No MinIO binary can be had here (STACK.md); production runs MinIO.
 *
 * s3rver lacks two multipart calls that MinIO has, so a middleware in front of it answers them from
 * s3rver's own upload directories (`<directory>/<bucket>/._S3rver_uploads/<uploadId>/key`):
 * - ListMultipartUploads (`GET /bucket?uploads`): the minio client calls it before its own
 *   multipart uploads, and tests call it to show that a failed upload left no parts behind;
 * - AbortMultipartUpload (`DELETE /bucket/key?uploadId=`): the S3 store aborts a failed upload.
 * Every request is also recorded (`requests`), so that tests can see how a body was sent.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';
import { freePort } from './net.js';

export interface S3Request { method: string; path: string; query: Record<string, unknown> }

export interface TestS3Server {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  port: number;
  directory: string;
  accessKey: string;
  secretKey: string;
  /** Requests received since start (method, path, query), oldest first. */
  requests: S3Request[];
  /** S3_* variables for loadConfig / startTestServer, storing in `bucket`. */
  env(bucket: string): Record<string, string>;
  /** Stops answering at once (open connections are cut); the directory stays. */
  stop(): Promise<void>;
  /** Serves again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops and removes the directory. */
  destroy(): Promise<void>;
}

const UPLOADS_DIR = '._S3rver_uploads'; // s3rver's FilesystemStore layout

export async function startS3Server(): Promise<TestS3Server> {
  const directory = await mkdtemp(path.join(os.tmpdir(), 'lucida-s3-'));
  const port = await freePort();
  const requests: S3Request[] = [];
  let server: S3rver | undefined;

  const start = async () => {
    const s = new S3rver({ address: '127.0.0.1', port, directory, silent: true });
    s.middleware.unshift(async (ctx, next) => {
      requests.push({ method: ctx.method, path: ctx.path, query: { ...ctx.query } });
      const [bucket, ...key] = ctx.path.split('/').filter(Boolean);
      if (ctx.method === 'GET' && bucket && key.length === 0 && 'uploads' in ctx.query) {
        ctx.type = 'application/xml';
        ctx.body = await listUploads(directory, bucket, String(ctx.query.prefix ?? ''));
        return;
      }
      if (ctx.method === 'DELETE' && bucket && key.length > 0 && typeof ctx.query.uploadId === 'string') {
        const dir = path.join(directory, bucket, UPLOADS_DIR, path.basename(ctx.query.uploadId));
        const found = await stat(dir).then(() => true, () => false);
        await rm(dir, { recursive: true, force: true });
        ctx.status = found ? 204 : 404;
        if (!found) {
          ctx.type = 'application/xml';
          ctx.body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>';
        }
        return;
      }
      await next();
    });
    await s.run();
    server = s;
  };

  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    const closed = s.close();
    s.httpServer?.closeAllConnections();
    await closed;
  };

  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port, directory, requests,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    env: (bucket) => ({
      S3_ENDPOINT: `http://127.0.0.1:${port}`, S3_BUCKET: bucket, S3_ACCESS_KEY: 'S3RVER', S3_SECRET_KEY: 'S3RVER',
      S3_PATH_STYLE: 'true',
    }),
    stop,
    restart: start,
    async destroy() {
      await stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** ListMultipartUploadsResult of the uploads s3rver holds for `bucket` whose key starts with `prefix`. */
async function listUploads(directory: string, bucket: string, prefix: string): Promise<string> {
  const root = path.join(directory, bucket, UPLOADS_DIR);
  const uploads: string[] = [];
  for (const uploadId of await readdir(root).catch(() => [])) {
    const key = await readFile(path.join(root, uploadId, 'key'), 'utf8').catch(() => undefined);
    if (key === undefined || !key.startsWith(prefix)) continue;
    const initiated = (await stat(path.join(root, uploadId))).mtime.toISOString();
    uploads.push(`<Upload><Key>${xml(key)}</Key><UploadId>${uploadId}</UploadId><Initiated>${initiated}</Initiated>`
      + '<StorageClass>STANDARD</StorageClass></Upload>');
  }
  return '<?xml version="1.0" encoding="UTF-8"?>'
    + '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    + `<Bucket>${xml(bucket)}</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Prefix>${xml(prefix)}</Prefix>`
    + `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
