/**
 * Lucida as separate operating-system processes (`lucida serve`, `lucida worker`, `lucida all`), for
 * the scale-out and crash tests: each child gets its own environment, its JSON log lines are kept
 * for assertions and copied to test-logs/ (scanned for patient identifiers by test/log-scan.ts), and
 * it can be killed with any signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TEST_LOG_DIR } from './server.js';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface LucidaProcess {
  name: string;
  child: ChildProcess;
  /** Every line the process wrote to stdout and stderr so far. */
  lines: string[];
  /** Log lines (parsed JSON) whose `msg` is `msg`. */
  logged(msg: string): Record<string, unknown>[];
  /** Resolves with the exit code or signal once the process has ended and all its output is in `lines`. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends `signal` and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `lucida <command>` with `env` on top of this process's PATH and HOME only (nothing else of
 * the test's environment leaks in). Resolves once `ready(process)` is true (polled), or rejects
 * with the process's last lines when it exits or `timeoutMs` passes first.
 */
export async function spawnLucida(opts: {
  name: string; command: 'all' | 'serve' | 'worker'; env: Record<string, string>;
  ready: (p: LucidaProcess) => boolean | Promise<boolean>; timeoutMs?: number;
}): Promise<LucidaProcess> {
  mkdirSync(TEST_LOG_DIR, { recursive: true });
  const fd = openSync(path.join(TEST_LOG_DIR, `process-${opts.name}-${process.pid}-${Date.now()}.log`), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/cli.ts', opts.command], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'debug', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      writeSync(fd, chunk);
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      lines.push(...parts.filter(Boolean));
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  // 'close', not 'exit': stdout and stderr may still deliver data after 'exit' (a SIGKILLed child's
  // last lines, still in the pipe), and writing them to a closed (or by then reused) descriptor would
  // fail or land in another file. 'close' comes once both streams have ended, after 'exit'. Should a
  // grandchild still hold the pipes, they are destroyed 5 s after 'exit', which brings 'close'.
  child.once('exit', () => {
    setTimeout(() => { child.stdout?.destroy(); child.stderr?.destroy(); }, 5000).unref();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      closeSync(fd);
      resolve({ code, signal });
    });
  });
  let ended = false;
  void exited.then(() => { ended = true; });
  const proc: LucidaProcess = {
    name: opts.name, child, lines, exited,
    logged: (msg) => lines.flatMap((l) => {
      try {
        const j = JSON.parse(l) as Record<string, unknown>;
        return j.msg === msg ? [j] : [];
      } catch {
        return [];
      }
    }),
    async kill(signal = 'SIGTERM') {
      if (!ended) child.kill(signal);
      return exited;
    },
  };
  const isReady = await waitFor(async () => !ended && await opts.ready(proc), (ok) => ok || ended,
    { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100 });
  if (!isReady) {
    await proc.kill('SIGKILL');
    throw new Error(`${opts.name} ${ended ? 'exited' : 'was not ready'} during start; its last lines:\n${lines.slice(-20).join('\n')}`);
  }
  return proc;
}

/** Ready when GET `${url}/readyz` answers 200. */
export const readyAt = (url: string) => async (): Promise<boolean> => {
  try {
    return (await fetch(`${url}/readyz`)).status === 200;
  } catch {
    return false;
  }
};
