import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jest } from '@jest/globals';
import { expectLucidaRejection, rejectionOf } from '../../../test/helpers/errors.js';
import { heicFixture, photoContext } from '../../../test/fixtures/photos.js';
import { convertPhoto } from './convert.js';
import { HeicDecodeFailure, HeicWorkerPool } from './heic-worker-pool.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** A smooth 4032 × 3024 (12 MP) picture in 19 KB (test/fixtures/images/README.md). */
const GRADIENT_12MP = readFileSync(new URL('../../../test/fixtures/images/gradient-4032x3024.heic', import.meta.url));

const limits = { maxPixels: 50_000_000 };
const convert = (bytes: Buffer) => convertPhoto(bytes, photoContext(), limits);

/** Runs `fn` while a 10 ms interval ticks; returns its result and the longest time between ticks. */
async function withTicker<T>(fn: () => Promise<T>): Promise<{ result: T; maxGapMs: number; wallMs: number }> {
  const start = performance.now();
  let last = start;
  let maxGapMs = 0;
  const tick = () => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  };
  const timer = setInterval(tick, 10);
  try {
    const result = await fn();
    tick();
    return { result, maxGapMs, wallMs: performance.now() - start };
  } finally {
    clearInterval(timer);
  }
}

/**
 * A stand-in worker script speaking heic-decode-worker.mjs's protocol: input byte 0 makes the thread
 * exit, 1 throws in it, 2 answers after 50 ms, anything else answers at once with a 1 × 1 image.
 */
const STAND_IN = new URL(`data:text/javascript;base64,${Buffer.from(`
  import { parentPort } from 'node:worker_threads';
  parentPort.on('message', (input) => {
    if (input[0] === 0) process.exit(3);
    if (input[0] === 1) throw new Error('boom in the decoder');
    const reply = () => parentPort.postMessage({ ok: true, width: 1, height: 1, data: new Uint8ClampedArray([input[0], 0, 0, 255]) });
    if (input[0] === 2) setTimeout(reply, 50); else reply();
  });
`).toString('base64')}`);

const failure = async (p: Promise<unknown>) => {
  const e = await rejectionOf(p);
  expect(e).toBeInstanceOf(HeicDecodeFailure);
  return e as HeicDecodeFailure;
};

describe('HEIC decoding in worker threads', () => {
  it('keeps the event loop ticking while a 12 MP HEIC converts', async () => {
    const { default: decodeHeic } = await import('heic-decode');
    await decodeHeic({ buffer: heicFixture('plain') }); // libheif loaded on this thread too
    await convert(heicFixture('plain')); // the pool's thread started, libheif loaded in it
    // How long this thread would stall if libheif ran on it, as it did before the pool.
    const t0 = performance.now();
    await decodeHeic({ buffer: GRADIENT_12MP });
    const stallMs = performance.now() - t0;

    const { result, maxGapMs, wallMs } = await withTicker(() => convert(GRADIENT_12MP));

    expect([result.columns, result.rows]).toEqual([4032, 3024]);
    // Generous: ticks are late by scheduling on a busy machine, but not by a whole decode.
    expect(maxGapMs).toBeLessThan(stallMs / 2);
    expect(maxGapMs).toBeLessThan(wallMs / 2);
  }, 60_000);

  it('decodes with the default script, leaving the caller its bytes', async () => {
    const pool = new HeicWorkerPool();
    try {
      const bytes = heicFixture('plain');
      const copy = Buffer.from(bytes);
      const image = await pool.decode(bytes);
      expect([image.width, image.height, image.data.length]).toEqual([64, 48, 64 * 48 * 4]);
      expect(bytes.equals(copy)).toBe(true); // a copy was transferred, not the caller's buffer
    } finally {
      await pool.close();
    }
  });

  it('tells a brand heic-decode refuses (UNSUPPORTED_IMAGE) from data libheif cannot decode (INVALID_IMAGE)', async () => {
    const heim = Buffer.from(heicFixture('plain'));
    heim.write('heim', 8, 'latin1'); // an HEVC brand the header reader accepts and heic-decode does not
    await expectLucidaRejection('UNSUPPORTED_IMAGE', convert(heim));

    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const broken = Buffer.from(heicFixture('plain'));
    broken.fill(0, broken.length - 300);
    const pool = new HeicWorkerPool();
    try {
      const e = await failure(pool.decode(broken));
      expect(e.kind).toBe('undecodable');
      expect(e.diagnostics.join('\n')).toMatch(/failed/i); // what libheif printed, handed back
      expect(log).toHaveBeenCalled(); // and printed here, as when libheif ran on this thread
    } finally {
      log.mockRestore();
      await pool.close();
    }
  });

  it('rejects the decode whose thread died, runs the queued ones on a new thread', async () => {
    const pool = new HeicWorkerPool({ size: 1, script: STAND_IN });
    try {
      const results = await Promise.allSettled([0, 4, 5].map((b) => pool.decode(Uint8Array.of(b))));
      expect(results[0].status).toBe('rejected');
      const e = (results[0] as PromiseRejectedResult).reason as HeicDecodeFailure;
      expect([e.kind, e.message]).toEqual(['stopped', 'the HEIC decoder thread stopped (exit code 3)']);
      expect(results.slice(1).map((r) => r.status === 'fulfilled' && r.value.data[0])).toEqual([4, 5]);
    } finally {
      await pool.close();
    }
  });

  it('rejects the decode whose thread threw, and the next decode still works', async () => {
    const pool = new HeicWorkerPool({ size: 1, script: STAND_IN });
    try {
      const e = await failure(pool.decode(Uint8Array.of(1)));
      expect(e.kind).toBe('stopped');
      expect(e.message).toMatch(/boom in the decoder/);
      expect((await pool.decode(Uint8Array.of(6))).data[0]).toBe(6);
    } finally {
      await pool.close();
    }
  });

  it('rejects, rather than waits forever, when the script cannot load', async () => {
    const pool = new HeicWorkerPool({ script: new URL('file:///nonexistent/heic-decode-worker.mjs') });
    const e = await failure(pool.decode(Uint8Array.of(7)));
    expect(e.kind).toBe('stopped');
    expect(e.message).toMatch(/cannot find module/i);
    await pool.close();
  });

  it('runs at most `size` decodes at once and ends threads left idle', async () => {
    const pool = new HeicWorkerPool({ size: 2, idleMs: 30, script: STAND_IN });
    try {
      const decodes = [2, 2, 2].map((b) => pool.decode(Uint8Array.of(b)));
      expect(pool.threadCount).toBe(2);
      await Promise.all(decodes);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(pool.threadCount).toBe(0);
      expect((await pool.decode(Uint8Array.of(8))).data[0]).toBe(8);
    } finally {
      await pool.close();
    }
  });

  it('rejects queued and new decodes once closed', async () => {
    const pool = new HeicWorkerPool({ size: 1, script: STAND_IN });
    const running = failure(pool.decode(Uint8Array.of(2)));
    const queued = failure(pool.decode(Uint8Array.of(9)));
    await pool.close();
    expect((await running).kind).toBe('stopped');
    expect((await queued).kind).toBe('stopped');
    expect((await failure(pool.decode(Uint8Array.of(9)))).kind).toBe('stopped');
  });

  it('works outside jest (tsx), finishes the decodes it was given, then lets the process exit', async () => {
    // Top-level await with nothing else pending: an unref'd busy thread would end the process early
    // (exit code 13: seen from the second decode on, once the thread is up); a thread kept ref'd
    // when idle would keep it alive until killed.
    const script = `
      import { readFileSync } from 'node:fs';
      import { convertPhoto } from './services/core/photo/index.ts';
      import { photoContext } from './test/fixtures/photos.ts';
      const convert = (file) => convertPhoto(readFileSync('test/fixtures/images/' + file), photoContext(), { maxPixels: 50e6 });
      const small = await convert('quadrants-64x48-plain.heic');
      const large = await convert('gradient-4032x3024.heic');
      console.log(JSON.stringify([small.columns, small.rows, large.columns, large.rows, large.encoding]));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual([64, 48, 4032, 3024, 'reencoded']);
  }, 40_000);
});
