/**
 * Worker thread of heic-worker-pool.ts: runs heic-decode (libheif in WebAssembly), whose decode is
 * synchronous CPU work that would otherwise hold the main thread's event loop for seconds.
 *
 * Plain JavaScript on purpose: jest does not transform scripts loaded by worker threads, and the
 * same file then serves tsx, jest and a tsc build alike (see heic-worker-pool.ts for how it is found).
 *
 * Protocol, one decode at a time (the pool sends the next only after the reply):
 * - in: the HEIC bytes, a Uint8Array whose buffer is transferred;
 * - out: { ok: true, width, height, data } with data the RGBA Uint8ClampedArray, its buffer transferred;
 *   or { ok: false, unsupported, message, diagnostics }: unsupported when heic-decode refused the
 *   brand (it throws a TypeError), diagnostics the lines libheif-js printed with console.log.
 */
import { format } from 'node:util';
import { parentPort } from 'node:worker_threads';
import decode from 'heic-decode';

/**
 * libheif-js reports why a decode failed with console.log: the lines of the current decode are
 * collected (the first few, shortened) and handed back with the failure.
 */
let diagnostics = [];
globalThis.console.log = (...args) => {
  if (diagnostics.length < 20) diagnostics.push(format(...args).slice(0, 500));
};

parentPort.on('message', async (input) => {
  diagnostics = [];
  try {
    const { width, height, data } = await decode({ buffer: input });
    // heic-decode 2.1 returns an array of its own; were it ever a view (of WebAssembly memory, say),
    // the copy keeps the transfer valid.
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    parentPort.postMessage({ ok: true, width, height, data: own }, [own.buffer]);
  } catch (e) {
    parentPort.postMessage({
      ok: false,
      unsupported: e instanceof TypeError,
      message: String(e?.message ?? e),
      diagnostics,
    });
  }
});
