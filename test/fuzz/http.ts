/**
 * A raw HTTP client for the fuzz test: sends exactly the bytes and headers it is given (supertest
 * would fix up Content-Type and lengths), on keep-alive connections, from a chosen loopback source
 * address, and reports a connection reset or timeout as a result instead of throwing, so the test
 * can count them.
 */
import http from 'node:http';

export interface FuzzRequest {
  method: string;
  /** Path and query, sent as is (no normalisation or encoding). */
  path: string;
  /** Header values as sent; an array sends the header several times. */
  headers?: Record<string, string | string[]>;
  body?: Buffer;
  /** Source address in 127.0.0.0/8 (per-address limits on the server). */
  localAddress?: string;
}

export type FuzzResponse =
  | { kind: 'response'; status: number; headers: http.IncomingHttpHeaders; body: Buffer; ms: number; socket?: string }
  | { kind: 'network-error'; code: string; message: string; ms: number; socket?: string; reused?: boolean };

const quieted = new WeakSet<object>();

/** One agent per test run: a few keep-alive connections, as a capture station or EPR would hold. */
export function createAgent(maxSockets: number): http.Agent {
  return new http.Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** Sends one request to `baseUrl` (http://127.0.0.1:port) and reads the whole answer. */
export function send(baseUrl: string, agent: http.Agent, req: FuzzRequest, timeoutMs = 30_000): Promise<FuzzResponse> {
  const url = new URL(baseUrl);
  const started = Date.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: FuzzResponse) => {
      if (!settled) {
        settled = true;
        resolve(r);
      }
    };
    const headers: Record<string, string | string[]> = { ...(req.headers ?? {}) };
    if (req.body && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) {
      headers['Content-Length'] = String(req.body.length);
    }
    let outgoing: http.ClientRequest;
    try {
      outgoing = http.request({
        host: url.hostname, port: url.port, method: req.method, path: req.path, headers, agent,
        localAddress: req.localAddress, timeout: timeoutMs,
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        const via = `${res.socket?.localAddress}:${res.socket?.localPort}`;
        res.on('end', () => done({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - started, socket: via }));
        res.on('error', (err: NodeJS.ErrnoException) => done({ kind: 'network-error', code: err.code ?? 'RESPONSE_ERROR', message: err.message, ms: Date.now() - started }));
      });
    } catch (err) {
      // Node refuses some header values before anything is sent (e.g. CR or LF in a value): not the server's doing.
      done({ kind: 'network-error', code: `CLIENT_REFUSED:${(err as NodeJS.ErrnoException).code ?? 'ERR'}`, message: (err as Error).message, ms: 0 });
      return;
    }
    outgoing.on('timeout', () => {
      done({ kind: 'network-error', code: 'TIMEOUT', message: `no answer within ${timeoutMs} ms`, ms: Date.now() - started });
      outgoing.destroy();
    });
    let socket: string | undefined;
    outgoing.on('socket', (s) => {
      // A server that answers early and closes may reset the connection while the body is still being
      // written: that late error belongs to an exchange already settled, not to the test process.
      if (!quieted.has(s)) {
        quieted.add(s);
        s.on('error', () => {});
      }
      const name = () => { socket = `${s.localAddress}:${s.localPort}`; };
      if (s.connecting) s.once('connect', name);
      else name();
    });
    outgoing.on('error', (err: NodeJS.ErrnoException) => done({
      kind: 'network-error', code: err.code ?? 'ERROR', message: err.message, ms: Date.now() - started, socket, reused: outgoing.reusedSocket,
    }));
    outgoing.end(req.body);
  });
}
