/**
 * The agent's /metrics endpoint over node:http: GET (or HEAD) /metrics answers the registry in
 * the Prometheus text format; anything else is 404 (other paths) or 405 (other methods). It
 * binds 127.0.0.1 unless told otherwise: job names and exit statuses are not for the network
 * unless the operator decides so. Concurrent scrapes share one rendering; a failing rendering
 * answers 500; malformed requests are answered 400 by the parser guard and never reach a handler.
 * Prometheus asks for gzip: the exposition of a node with many jobs is megabytes of repetitive
 * text, and compressing it (on libuv's thread pool, off the event loop) makes it ~20x smaller.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { UnavailableError, messageOf } from '@launchfleet/shared/errors';
import type { MetricsRegistry } from './prom-exposition.ts';

export interface MetricsServerOptions {
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** URL path of the endpoint. Default `/metrics`. */
  readonly path?: string;
}

export interface MetricsServer {
  /** The port actually bound. */
  readonly port: number;
  readonly host: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Starts the endpoint; rejects with UnavailableError when the address cannot be bound. */
export async function startMetricsServer(
  o: MetricsServerOptions,
  registry: MetricsRegistry,
): Promise<MetricsServer> {
  const host = o.host ?? '127.0.0.1';
  const path = o.path ?? '/metrics';
  let rendering: Promise<{ text: string; gzipped: Promise<Buffer> | undefined }> | undefined;
  const render = () =>
    (rendering ??= registry
      .metrics()
      .then((text) => ({ text, gzipped: undefined as Promise<Buffer> | undefined }))
      .finally(() => {
        rendering = undefined;
      }));

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const reqPath = q >= 0 ? url.slice(0, q) : url;
    if (reqPath !== path) return plain(res, 404, 'not found: the metrics are at ' + path + '\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'method not allowed\n');
    }
    const wantsGzip = /\bgzip\b/i.test(String(req.headers['accept-encoding'] ?? ''));
    render()
      .then(async (r) => {
        const body = wantsGzip ? await (r.gzipped ??= gzipAsync(r.text)) : r.text;
        res.statusCode = 200;
        res.setHeader('Content-Type', registry.contentType);
        res.setHeader('Vary', 'Accept-Encoding');
        if (wantsGzip) res.setHeader('Content-Encoding', 'gzip');
        res.setHeader('Content-Length', Buffer.byteLength(body));
        res.setHeader('Cache-Control', 'no-store');
        res.end(req.method === 'HEAD' ? undefined : body);
      })
      .catch((err: unknown) => plain(res, 500, `collecting metrics failed: ${messageOf(err)}\n`));
  };

  const server = createServer(
    { requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, maxHeaderSize: 8192 },
    (req, res) => {
      try {
        // A scrape has no body; drain anything sent so the connection stays usable.
        req.resume();
        handle(req, res);
      } catch (err) {
        plain(res, 500, `metrics endpoint error: ${messageOf(err)}\n`);
      }
    },
  );
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(
        new UnavailableError(`metrics endpoint cannot listen on ${host}:${o.port}: ${err.message}`, {
          cause: err,
        }),
      );
    };
    server.once('error', onError);
    server.listen({ host, port: o.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // After the bind, a server error (rare: EMFILE on accept) must not crash the agent.
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** gzip on libuv's thread pool; node:zlib is loaded at the first scrape that asks for it. */
async function gzipAsync(text: string): Promise<Buffer> {
  const { gzip } = await import('node:zlib');
  return new Promise((resolve, reject) => gzip(text, (err, out) => (err ? reject(err) : resolve(out))));
}

function plain(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}
