/**
 * The HTTP transport the S3 client (minio) sends its requests through. It adds what the client
 * lacks for a store on a request's path:
 *
 * - Deadlines. minio sets none, so a store host that drops packets, or accepts and never answers,
 *   would hold a request (and its caller) for as long as the operating system keeps the socket.
 *   Here: a connect deadline, and an idle deadline while a request is in flight.
 * - Coded server failures. minio turns 5xx, 408 and 429 answers into an Error with only a message
 *   ("Request failed after 0 retries: ...") and leaves the response unread (its socket is never
 *   released). Here they are read off and reported as an error with `code` S3_SERVER_UNAVAILABLE.
 *
 * Errors name the host and the status only: never request headers (they carry the signature).
 */
import http from 'node:http';
import https from 'node:https';

export interface S3Timeouts {
  /** A TCP connection must be established within this (a host that drops packets). Default 5 s. */
  connectMs: number;
  /**
   * A request in flight may be silent this long, waiting for an answer or between bytes of a body
   * (a store that accepts and hangs). Also applies while a caller reads an object slowly: a reader
   * that stops for longer loses its stream. Default 30 s.
   */
  idleMs: number;
}

export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 5_000, idleMs: 30_000 };

/** `code` of the errors this transport raises for an answer of a store that cannot serve now. */
export const S3_SERVER_UNAVAILABLE = 'S3_SERVER_UNAVAILABLE';

/**
 * Statuses that mean "not now" rather than "no": the ones minio would retry (408, 429, 499, 5xx)
 * and 507 (a MinIO whose disks are full). 501 (not implemented) is a permanent answer.
 */
const isUnavailableStatus = (status: number) => status === 408 || status === 429 || status === 499 || (status >= 500 && status !== 501);

const coded = (code: string, message: string) => Object.assign(new Error(message), { code });

type Transport = Pick<typeof http, 'request'>;

/** The transport for `protocol` ('http:' or 'https:') with these deadlines. */
export function guardedTransport(protocol: string, timeouts: S3Timeouts = DEFAULT_S3_TIMEOUTS): Transport {
  const base = protocol === 'https:' ? https : http;
  const request = (options: http.RequestOptions, callback?: (res: http.IncomingMessage) => void): http.ClientRequest => {
    const host = `${options.hostname ?? options.host}:${options.port}`;
    // `timeout` as an option (not setTimeout()) also runs while the socket connects.
    const req = base.request({ ...options, timeout: timeouts.idleMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (!isUnavailableStatus(status)) {
        callback?.(res);
        return;
      }
      res.resume(); // read off, so the connection can be reused
      req.destroy(coded(S3_SERVER_UNAVAILABLE, `object store ${host} answered ${status}`));
    });
    req.on('timeout', () => req.destroy(coded('ETIMEDOUT', `object store ${host} silent for ${timeouts.idleMs} ms`)));
    req.on('socket', (socket) => {
      if (!socket.connecting) return; // a kept-alive connection
      const timer = setTimeout(() => req.destroy(coded('ETIMEDOUT', `no connection to object store ${host} within ${timeouts.connectMs} ms`)),
        timeouts.connectMs);
      socket.once('connect', () => clearTimeout(timer));
      req.once('close', () => clearTimeout(timer));
    });
    return req;
  };
  return { request: request as Transport['request'] };
}
