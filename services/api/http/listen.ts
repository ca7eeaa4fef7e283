/**
 * The HTTP server of every Lucida process: the API's (runtime.ts) and a worker-only process's ops
 * server (worker/ops-server.ts). One place for the socket timeouts that protect them both, for
 * listening on PORT and HOST, and for the graceful close.
 */
import http from 'node:http';
import type { Config } from '../../core/config.js';

export interface ListenOptions {
  /**
   * Longest a whole request may take, in ms; 0 for no limit (the API: large STOW bodies may take
   * minutes, and an idle socket is dropped anyway).
   */
  requestTimeoutMs: number;
  /** On close, how long requests in flight may take to finish before what is left is closed (0: at once). */
  drainMs: number;
}

export interface ListeningServer {
  server: http.Server;
  /** The port listened on (PORT, or the one the system chose for PORT=0). */
  port: number;
  url: string;
  /** Stops accepting, lets requests in flight finish (up to `drainMs`), then closes what is left. */
  close(): Promise<void>;
}

export async function listenHttp(app: http.RequestListener, config: Pick<Config, 'port' | 'host' | 'http' | 'requestTimeoutSeconds'>,
  options: ListenOptions): Promise<ListeningServer> {
  // Node checks headersTimeout from a timer (every 30 s by default): check every second, or a
  // client dribbling its headers (slowloris) keeps its socket up to 30 s longer.
  const server = http.createServer({ connectionsCheckingInterval: 1000 }, app);
  server.requestTimeout = options.requestTimeoutMs;
  server.headersTimeout = config.http.headersTimeoutSeconds * 1000;
  // A socket idle this long is dropped.
  server.timeout = config.requestTimeoutSeconds * 1000;
  // Longer than a load balancer's idle timeout (60 s on nginx's upstream keepalive, AWS ALB): the
  // balancer, not Lucida, closes an idle kept-alive connection, so it never reuses one being closed.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  return {
    server,
    port,
    url: `http://localhost:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (options.drainMs <= 0) {
        server.closeAllConnections();
        await closed;
        return;
      }
      const timer = setTimeout(() => server.closeAllConnections(), options.drainMs);
      await closed;
      clearTimeout(timer);
    },
  };
}
