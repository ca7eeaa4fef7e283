/**
 * HEIC decoding off the main thread. heic-decode (libheif in WebAssembly) decodes synchronously:
 * ≈ 2 s of CPU for a 12 MP phone photo, during which every HTTP request sharing the process would
 * wait (`npm start` runs the API and the worker together). Worker threads running
 * heic-decode-worker.mjs do it instead; sharp's work already runs on libuv's thread pool.
 *
 * - Lazy: no thread until the first decode. A thread idle for `idleMs` ends, giving back libheif's
 *   WebAssembly memory, which only ever grows (to the largest image decoded so far).
 * - An idle thread never keeps the process alive (unref); a thread with a decode in hand does, like
 *   any pending I/O, so an awaited decode finishes even when nothing else is left to do.
 * - One decode per thread at a time, the rest wait in order: at most `size` decodes, and so `size`
 *   RGBA results (4 bytes per pixel, 48 MB for 12 MP), are in progress at once.
 * - A thread that dies (crash, out of memory, terminated) rejects its decode with kind 'stopped';
 *   the next decode starts a new thread.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type decodeHeic from 'heic-decode';

/** heic-decode's result: RGBA, 8 bits per sample, HEIF transformations (irot, imir) applied. */
export type HeicRgba = Awaited<ReturnType<typeof decodeHeic>>;

/**
 * Why a decode failed: heic-decode refused the file's brand ('unsupported'), libheif could not
 * decode it ('undecodable'), or the thread stopped before answering ('stopped').
 */
export type HeicFailureKind = 'unsupported' | 'undecodable' | 'stopped';

export class HeicDecodeFailure extends Error {
  readonly kind: HeicFailureKind;
  /** What libheif printed about the failure, if anything. */
  readonly diagnostics: string[];

  constructor(kind: HeicFailureKind, message: string, diagnostics: string[] = []) {
    super(message);
    this.name = 'HeicDecodeFailure';
    this.kind = kind;
    this.diagnostics = diagnostics;
  }
}

export interface HeicPoolOptions {
  /** Threads at most; by default one per spare core, 1 or 2 (the main thread and libuv need the rest). */
  size?: number;
  /** A thread with nothing to do for this long ends. */
  idleMs?: number;
  /** The worker script (see heic-decode-worker.mjs for its protocol); tests pass their own. */
  script?: URL;
}

type Reply =
  | { ok: true; width: number; height: number; data: Uint8ClampedArray }
  | { ok: false; unsupported: boolean; message: string; diagnostics: string[] };

interface Job {
  input: Uint8Array;
  resolve: (image: HeicRgba) => void;
  reject: (e: HeicDecodeFailure) => void;
}

interface Thread {
  worker: Worker;
  job?: Job;
  /** Why the thread failed, when it reported it ('error' comes before 'exit'). */
  error?: Error;
  idleTimer?: NodeJS.Timeout;
}

const DEFAULT_IDLE_MS = 60_000;

/** The worker script, beside this module (the sources run as they are, under tsx: README, Run in production). */
const defaultScript = (): URL => new URL('./heic-decode-worker.mjs', import.meta.url);

export class HeicWorkerPool {
  readonly size: number;
  private readonly idleMs: number;
  private readonly script: URL;
  private readonly threads = new Set<Thread>();
  private readonly queue: Job[] = [];
  private closed = false;

  constructor(opts: HeicPoolOptions = {}) {
    this.size = opts.size ?? Math.max(1, Math.min(2, os.availableParallelism() - 1));
    this.idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
    this.script = opts.script ?? defaultScript();
  }

  /** Threads running now (started lazily, ended when idle). */
  get threadCount(): number {
    return this.threads.size;
  }

  /**
   * Decodes the first top-level image of a HEIC file to RGBA in a worker thread.
   * `bytes` stays the caller's: the thread gets a copy, transferred rather than copied again.
   * @throws HeicDecodeFailure
   */
  decode(bytes: Uint8Array): Promise<HeicRgba> {
    if (this.closed) return Promise.reject(new HeicDecodeFailure('stopped', 'the HEIC decoder pool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ input: bytes, resolve, reject });
      this.dispatch();
    });
  }

  /** Ends every thread; pending and queued decodes reject with kind 'stopped'. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.reject(new HeicDecodeFailure('stopped', 'the HEIC decoder pool was closed'));
    await Promise.all([...this.threads].map((t) => t.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let thread = [...this.threads].find((t) => !t.job);
      if (!thread && this.threads.size >= this.size) return;
      const job = this.queue.shift()!;
      try {
        thread ??= this.start();
      } catch (e) {
        job.reject(new HeicDecodeFailure('stopped', `the HEIC decoder thread cannot start (${(e as Error).message})`));
        continue;
      }
      this.run(thread, job);
    }
  }

  private start(): Thread {
    // No inherited Node options: the script is plain JavaScript, and some options (`--input-type`,
    // a TypeScript loader's hooks) would fail or only slow the thread's start.
    const worker = new Worker(this.script, { execArgv: [] });
    worker.unref();
    const thread: Thread = { worker };
    worker.on('message', (reply: Reply) => this.settle(thread, reply));
    worker.on('error', (e) => { thread.error = e; });
    // A reply that cannot be deserialised leaves the decode unanswered: end the thread, which rejects it.
    worker.on('messageerror', (e) => {
      thread.error = e;
      void worker.terminate();
    });
    worker.on('exit', (code) => this.stopped(thread, code));
    this.threads.add(thread);
    return thread;
  }

  private run(thread: Thread, job: Job): void {
    clearTimeout(thread.idleTimer);
    thread.job = job;
    thread.worker.ref();
    // A copy of the thread's own: the caller keeps its bytes (convert.ts reads them again), and a
    // Buffer may be a view of a larger, shared ArrayBuffer.
    const input = new Uint8Array(job.input);
    thread.worker.postMessage(input, [input.buffer]);
  }

  private settle(thread: Thread, reply: Reply): void {
    const job = thread.job;
    thread.job = undefined;
    thread.worker.unref();
    if (job) {
      if (reply.ok) {
        job.resolve({ width: reply.width, height: reply.height, data: reply.data });
      } else {
        // Printed as libheif-js printed them when it ran on the main thread.
        for (const line of reply.diagnostics) console.log(line);
        job.reject(new HeicDecodeFailure(reply.unsupported ? 'unsupported' : 'undecodable', reply.message, reply.diagnostics));
      }
    }
    this.dispatch();
    if (!thread.job && this.threads.has(thread)) {
      thread.idleTimer = setTimeout(() => this.retire(thread), this.idleMs).unref();
    }
  }

  private retire(thread: Thread): void {
    if (thread.job) return;
    this.threads.delete(thread); // before 'exit': no decode may be given to a thread that is ending
    void thread.worker.terminate();
  }

  private stopped(thread: Thread, code: number): void {
    clearTimeout(thread.idleTimer);
    this.threads.delete(thread);
    const job = thread.job;
    thread.job = undefined;
    if (job) {
      const why = thread.error ? thread.error.message.split('\n')[0].slice(0, 200) : `exit code ${code}`;
      job.reject(new HeicDecodeFailure('stopped', `the HEIC decoder thread stopped (${why})`));
    }
    if (!this.closed) this.dispatch(); // a new thread for whatever is still queued
  }
}

let shared: HeicWorkerPool | undefined;

/** {@link HeicWorkerPool.decode} on the process's pool, started on first use. */
export function decodeHeicInWorker(bytes: Uint8Array): Promise<HeicRgba> {
  shared ??= new HeicWorkerPool();
  return shared.decode(bytes);
}
