/**
 * The console's HTTP answers: the headers every response carries, HTML pages and redirects, the
 * HTTP status of a failure (from its gRPC status, api/status.ts being the one mapping of errors),
 * and reading a POST: the cross-site check and the url-encoded form.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { status } from '@grpc/grpc-js';
import { statusOf, toServiceError } from '../api/status.ts';
import type { SafeHtml } from './core/html.ts';
import { crossSiteReason } from './core/request-guard.ts';
import { type Viewer, errorPage } from './views/layout.ts';

const maxBody = 512 * 1024;

/**
 * Headers on every response. No HSTS: it would bind every port of the host name (127.0.0.1 in
 * the local fleet) to HTTPS in the browser; the console itself serves nothing but HTTPS.
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** HTTP status of a gRPC status (the gRPC one comes from api/status.ts, the one mapping of errors). */
export function httpStatus(code: status): number {
  // Only the codes api/status.ts produces; anything else is a server error.
  // eslint-disable-next-line @typescript-eslint/switch-exhaustiveness-check
  switch (code) {
    case status.INVALID_ARGUMENT:
      return 400;
    case status.UNAUTHENTICATED:
      return 401;
    case status.PERMISSION_DENIED:
      return 403;
    case status.NOT_FOUND:
      return 404;
    case status.ABORTED:
    case status.FAILED_PRECONDITION:
      return 409;
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED:
      return 503;
    default:
      return 500;
  }
}

export const titles: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Not allowed',
  404: 'Not found',
  409: 'Conflict',
  413: 'Too large',
  429: 'Too many attempts',
  503: 'Unavailable',
  500: 'Error',
};

/** An HTML page. */
export function sendHtml(
  res: ServerResponse,
  code: number,
  body: SafeHtml,
  headers: Record<string, string> = {},
): void {
  res.writeHead(code, {
    ...securityHeaders,
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body.text);
}

/** 303 See Other. */
export function redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
  res.writeHead(303, { ...securityHeaders, location: to, 'cache-control': 'no-store', ...headers });
  res.end();
}

/**
 * The error page of a failure, with the HTTP status of its gRPC status. `reads`: the page only
 * read (a broker outage is then worded as "nothing was changed", api/status.ts).
 */
export function sendFailure(
  res: ServerResponse,
  v: Viewer | undefined,
  failure: unknown,
  back?: string,
  reads = false,
): void {
  const code = httpStatus(statusOf(failure));
  sendHtml(res, code, errorPage(v, titles[code] ?? 'Error', toServiceError(failure, reads).details, back));
}

/** Why a state-changing request is refused as cross-site, or undefined. */
export function crossSiteRefusal(req: IncomingMessage): string | undefined {
  const h = (n: string) => {
    const v = req.headers[n];
    return typeof v === 'string' ? v : undefined;
  };
  return crossSiteReason({ host: h('host'), origin: h('origin'), secFetchSite: h('sec-fetch-site') });
}

/** The url-encoded form of a POST, or undefined after answering with the error. */
export async function readForm(
  req: IncomingMessage,
  res: ServerResponse,
  v: Viewer | undefined,
): Promise<URLSearchParams | undefined> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    sendHtml(res, 415, errorPage(v, 'Bad request', 'send a form (application/x-www-form-urlencoded)'));
    return undefined;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBody) {
      sendHtml(res, 413, errorPage(v, 'Too large', `a form may be at most ${maxBody / 1024} KiB`), {
        connection: 'close',
      });
      return undefined;
    }
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}
