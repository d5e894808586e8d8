/**
 * The web console, served by the controller itself over HTTPS with the controller's TLS
 * certificate (no separate server, no CDN: every asset is in controller/assets/).
 *
 * ```
 * GET  /assets/*                     the stylesheet, the client script, the icon (no session needed)
 * GET  /login, POST /login           sign in with an API token -> a session cookie
 * POST /logout                       sign out (the session is deleted on the server)
 * GET  / /jobs /jobs/<label> /nodes /nodes/<id> /rollouts /rollouts/<id>     pages
 * POST /rollouts                     start a rollout          (StartRollout's rule)
 * POST /rollouts/<id>/<command>      pause|resume|abort|rollback (the matching gRPC method's rule)
 * GET  /events                       server-sent events: topics of what changed (live-feed.ts)
 * GET  /session                      204 while the session lives, 401 after (the client script asks)
 * ```
 *
 * Every request but assets and sign-in needs a live session (console/session-store.ts); every
 * POST must come from this origin and carry the session's CSRF token (core/request-guard.ts);
 * every page and action runs under the gRPC call policy with the rule of the method it stands
 * for (console-routes.ts, console-actions.ts), so roles and the audit stream are the API's own.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { PermissionDeniedError, messageOf } from '@launchfleet/shared';
import { status } from '@grpc/grpc-js';
import { type ApiPrincipal, type ApiTokenTable, hashApiToken } from '../auth/api-tokens.ts';
import { atLeast, consoleMethodPolicy, rolloutMethodPolicy } from '../auth/core/roles.ts';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import { type PolicyEffects, runUnderPolicy } from '../api/grpc-methods.ts';
import { statusOf, toServiceError } from '../api/status.ts';
import type { HostPort } from '../config/controller-config.ts';
import { type SafeHtml } from './core/html.ts';
import {
  type SessionRecord,
  crossSiteReason,
  csrfMatches,
  safeNext,
  sessionCookie,
  sessionIdFromCookie,
} from './core/request-guard.ts';
import type { SessionStore } from './session-store.ts';
import type { LiveFeed } from './live-feed.ts';
import { type ConsoleData, routeOf } from './console-routes.ts';
import { type ConsoleActions, isCommand } from './console-actions.ts';
import { type Viewer, errorPage, loginPage } from './views/layout.ts';

export interface ConsoleServerOptions {
  readonly listen: HostPort;
  readonly tls: { readonly certFile: string; readonly keyFile: string };
  readonly tokens: ApiTokenTable;
  readonly sessions: SessionStore;
  readonly feed: LiveFeed;
  readonly data: ConsoleData;
  readonly actions: ConsoleActions;
  readonly policy: PolicyEffects;
  /** Open event streams at most (each is a socket and a timer). Default 256. */
  readonly maxStreams?: number;
}

export interface ConsoleServer {
  readonly port: number;
  stop(): Promise<void>;
}

/** A signed-in request. */
interface Signed {
  readonly id: string;
  readonly session: SessionRecord;
  readonly principal: ApiPrincipal;
}

const assetsDir = new URL('../../assets/', import.meta.url);
const assetTypes: Readonly<Record<string, string>> = {
  'console.css': 'text/css; charset=utf-8',
  'console.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};
const maxBody = 512 * 1024;

/**
 * Headers on every response. No HSTS: it would bind every port of the host name (127.0.0.1 in
 * the local fleet) to HTTPS in the browser; the console itself serves nothing but HTTPS.
 */
const securityHeaders: Readonly<Record<string, string>> = {
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
function httpStatus(code: status): number {
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

const titles: Readonly<Record<number, string>> = {
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

export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const assets = new Map<string, { body: Buffer; etag: string; type: string }>();
  for (const [name, type] of Object.entries(assetTypes)) {
    const body = await readFile(new URL(name, assetsDir));
    assets.set(name, {
      body,
      type,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
    });
  }
  const c = new Console(o, assets);
  const server = createServer(
    { cert: await readFile(o.tls.certFile), key: await readFile(o.tls.keyFile), minVersion: 'TLSv1.2' },
    (req, res) => {
      c.handle(req, res).catch((e: unknown) => {
        o.policy.log(`controller: console: ${req.method} ${req.url?.slice(0, 200)}: ${messageOf(e)}`);
        if (!res.headersSent)
          c.send(res, 500, errorPage(undefined, 'Error', 'internal error; see the controller log'));
        else res.destroy();
      });
    },
  );
  const host = o.listen.host;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.listen.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: async () => {
      c.closeStreams();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      });
    },
  };
}

class Console {
  readonly #o: ConsoleServerOptions;
  readonly #assets: Map<string, { body: Buffer; etag: string; type: string }>;
  readonly #streams = new Set<ServerResponse>();
  /** Failed sign-ins per client address in the current window (bounded). */
  readonly #failures = new Map<string, { n: number; since: number }>();

  constructor(o: ConsoleServerOptions, assets: Map<string, { body: Buffer; etag: string; type: string }>) {
    this.#o = o;
    this.#assets = assets;
  }

  closeStreams(): void {
    for (const s of this.#streams) s.end();
    this.#streams.clear();
  }

  send(res: ServerResponse, code: number, body: SafeHtml, headers: Record<string, string> = {}): void {
    res.writeHead(code, {
      ...securityHeaders,
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      ...headers,
    });
    res.end(body.text);
  }

  #redirect(res: ServerResponse, to: string, headers: Record<string, string> = {}): void {
    res.writeHead(303, { ...securityHeaders, location: to, 'cache-control': 'no-store', ...headers });
    res.end();
  }

  #fail(res: ServerResponse, v: Viewer | undefined, failure: unknown, back?: string): void {
    const code = httpStatus(statusOf(failure));
    this.send(res, code, errorPage(v, titles[code] ?? 'Error', toServiceError(failure).details, back));
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    const url = new URL(req.url ?? '/', 'https://console.invalid');
    let segments: string[];
    try {
      segments = url.pathname
        .split('/')
        .filter((s) => s !== '')
        .map((s) => decodeURIComponent(s));
    } catch {
      this.send(res, 400, errorPage(undefined, 'Bad request', 'the path is not valid percent-encoding'));
      return;
    }
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    const [first, second, third] = segments;
    if (first === 'assets' && get && second !== undefined && segments.length === 2)
      return this.#asset(req, res, second);
    if (first === 'login' && segments.length === 1) {
      if (get) {
        const reason =
          url.searchParams.get('expired') === '1' ? 'Your session ended; sign in again.' : undefined;
        this.send(
          res,
          200,
          loginPage({ next: safeNext(url.searchParams.get('next')), ...(reason && { error: reason }) }),
        );
        return;
      }
      if (method === 'POST') return this.#signIn(req, res);
    }
    const signed = await this.#signed(req);
    if (!signed) {
      if (first === 'events' || first === 'session' || !get) {
        this.send(
          res,
          401,
          errorPage(undefined, 'Not signed in', 'Sign in first (your session may have expired).', '/login'),
        );
        return;
      }
      const had = sessionIdFromCookie(req.headers.cookie) !== undefined;
      const next = `${url.pathname}${url.search}`;
      this.#redirect(res, `/login?next=${encodeURIComponent(next)}${had ? '&expired=1' : ''}`);
      return;
    }
    const v: Viewer = { name: signed.principal.name, role: signed.principal.role, csrf: signed.session.csrf };
    if (first === 'session' && get && segments.length === 1) {
      res.writeHead(204, { ...securityHeaders, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (first === 'events' && get && segments.length === 1) return this.#events(req, res, signed);
    if (method === 'POST') {
      const refused = this.#checkPost(req);
      if (refused) {
        this.send(res, 403, errorPage(v, 'Not allowed', refused));
        return;
      }
      const form = await this.#form(req, res, v);
      if (!form) return;
      if (!csrfMatches(form.get('_csrf') ?? undefined, signed.session.csrf)) {
        this.send(
          res,
          403,
          errorPage(
            v,
            'Not allowed',
            'the form is stale or forged (CSRF token mismatch); reload the page and try again',
          ),
        );
        return;
      }
      if (first === 'logout' && segments.length === 1) return this.#signOut(res, signed);
      if (first === 'rollouts' && segments.length === 1) {
        const r = await this.#o.actions.start(signed.principal, form);
        if ('failure' in r)
          return this.#fail(res, v, r.failure, `/jobs/${encodeURIComponent(form.get('label') ?? '')}`);
        this.#o.feed.touch('rollouts', `rollout:${r.id}`);
        return this.#redirect(res, `/rollouts/${encodeURIComponent(r.id)}?did=started`);
      }
      if (
        first === 'rollouts' &&
        second !== undefined &&
        third !== undefined &&
        segments.length === 3 &&
        isCommand(third)
      ) {
        const r = await this.#o.actions.command(signed.principal, third, second, form.get('reason') ?? '');
        if ('failure' in r) return this.#fail(res, v, r.failure, `/rollouts/${encodeURIComponent(second)}`);
        this.#o.feed.touch('rollouts', `rollout:${second}`);
        return this.#redirect(res, `/rollouts/${encodeURIComponent(second)}?did=${third}`);
      }
      this.send(res, 404, errorPage(v, 'Not found', 'no such action'));
      return;
    }
    if (!get) {
      this.send(res, 405, errorPage(v, 'Method not allowed', `${method.slice(0, 16)} is not used here`), {
        allow: 'GET, POST',
      });
      return;
    }
    const route = routeOf(segments);
    if (!route) {
      this.send(res, 404, errorPage(v, 'Not found', 'no such page'));
      return;
    }
    // A live refresh is part of watching the page (as WatchRollout audits once per watch, not per update).
    const live = req.headers['x-lf-live'] === '1';
    const rule = live ? { ...route.rule, audited: false } : route.rule;
    const can = (m: string): boolean => {
      const r = (rolloutMethodPolicy as Record<string, { role: ApiPrincipal['role'] } | undefined>)[m];
      return r !== undefined && atLeast(signed.principal.role, r.role);
    };
    let body: SafeHtml | undefined;
    const failure = await runUnderPolicy(
      this.#o.policy,
      route.method,
      rule,
      () => signed.principal,
      route.target,
      async () => {
        body = await route.render(v, this.#o.data, url.searchParams, can);
      },
    );
    if (failure !== undefined || !body) return this.#fail(res, v, failure);
    this.send(res, 200, body, { 'server-timing': `render;dur=${(performance.now() - t0).toFixed(1)}` });
  }

  async #asset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const a = this.#assets.get(name);
    if (!a) {
      this.send(res, 404, errorPage(undefined, 'Not found', 'no such asset'));
      return Promise.resolve();
    }
    const headers = { ...securityHeaders, 'content-type': a.type, etag: a.etag, 'cache-control': 'no-cache' };
    if (req.headers['if-none-match'] === a.etag) {
      res.writeHead(304, headers);
      res.end();
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(a.body.length) });
      res.end(req.method === 'HEAD' ? undefined : a.body);
    }
    return Promise.resolve();
  }

  /** The live session of the request, with its principal as the token table says today. */
  async #signed(req: IncomingMessage): Promise<Signed | undefined> {
    const id = sessionIdFromCookie(req.headers.cookie);
    if (!id) return undefined;
    const session = await this.#o.sessions.get(id, this.#o.policy.clock.wallMs());
    if (!session) return undefined;
    const principal = this.#o.tokens.byHash(session.tokenSha256);
    return principal ? { id, session, principal } : undefined;
  }

  /** Why a state-changing request is refused as cross-site, or undefined. */
  #checkPost(req: IncomingMessage): string | undefined {
    const h = (n: string) => {
      const v = req.headers[n];
      return typeof v === 'string' ? v : undefined;
    };
    return crossSiteReason({ host: h('host'), origin: h('origin'), secFetchSite: h('sec-fetch-site') });
  }

  /** The url-encoded form of a POST, or undefined after answering with the error. */
  async #form(
    req: IncomingMessage,
    res: ServerResponse,
    v: Viewer | undefined,
  ): Promise<URLSearchParams | undefined> {
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (type !== 'application/x-www-form-urlencoded') {
      this.send(res, 415, errorPage(v, 'Bad request', 'send a form (application/x-www-form-urlencoded)'));
      return undefined;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBody) {
        this.send(res, 413, errorPage(v, 'Too large', `a form may be at most ${maxBody / 1024} KiB`), {
          connection: 'close',
        });
        return undefined;
      }
      chunks.push(chunk);
    }
    return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
  }

  async #signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = this.#checkPost(req);
    if (refused) {
      this.send(res, 403, errorPage(undefined, 'Not allowed', refused));
      return;
    }
    const addr = req.socket.remoteAddress ?? '';
    const now = this.#o.policy.clock.wallMs();
    const f = this.#failures.get(addr);
    if (f && now - f.since < 5 * 60_000 && f.n >= 20) {
      this.send(
        res,
        429,
        loginPage({ next: '/', error: 'Too many failed sign-ins from this address; wait a few minutes.' }),
      );
      return;
    }
    const form = await this.#form(req, res, undefined);
    if (!form) return;
    const next = safeNext(form.get('next'));
    const token = (form.get('token') ?? '').trim();
    let cookie = '';
    const failure = await runUnderPolicy(
      this.#o.policy,
      'ConsoleSignIn',
      consoleMethodPolicy.ConsoleSignIn,
      () => {
        if (token === '') throw new UnauthenticatedError('no API token given');
        const p = this.#o.tokens.lookup(token);
        if (!p) throw new UnauthenticatedError('unknown API token');
        return p;
      },
      'console',
      async (ctx) => {
        const s = await this.#o.sessions.create(hashApiToken(token), ctx.who, now);
        cookie = sessionCookie(s.id, this.#o.sessions.ttlMs / 1000);
      },
    );
    if (failure !== undefined) {
      if (failure instanceof UnauthenticatedError) {
        const cur = f && now - f.since < 5 * 60_000 ? f : { n: 0, since: now };
        if (this.#failures.size > 10_000) this.#failures.clear();
        this.#failures.set(addr, { n: cur.n + 1, since: cur.since });
        this.send(res, 401, loginPage({ next, error: 'That token is not known to this controller.' }));
        return;
      }
      return this.#fail(res, undefined, failure, '/login');
    }
    this.#failures.delete(addr);
    this.#redirect(res, next, { 'set-cookie': cookie });
  }

  async #signOut(res: ServerResponse, s: Signed): Promise<void> {
    const failure = await runUnderPolicy(
      this.#o.policy,
      'ConsoleSignOut',
      consoleMethodPolicy.ConsoleSignOut,
      () => s.principal,
      'console',
      () => this.#o.sessions.delete(s.id),
    );
    if (failure !== undefined) return this.#fail(res, undefined, failure);
    this.#redirect(res, '/login', { 'set-cookie': sessionCookie('', 0) });
  }

  /** Server-sent events: `change` with the topics of each batch; ends when the session does. */
  #events(req: IncomingMessage, res: ServerResponse, s: Signed): void {
    if (this.#streams.size >= (this.#o.maxStreams ?? 256)) {
      this.#fail(
        res,
        undefined,
        new PermissionDeniedError('too many live pages are open on this controller; reload later'),
      );
      return;
    }
    res.writeHead(200, {
      ...securityHeaders,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    // The browser reconnects by itself after 2 s (a controller restart); the page then refreshes.
    res.write(`retry: 2000\nevent: hello\ndata: {}\n\n`);
    this.#streams.add(res);
    const remove = this.#o.feed.addSink({
      send: (topics) => void res.write(`event: change\ndata: ${JSON.stringify(topics)}\n\n`),
    });
    const beat = setInterval(() => {
      if (this.#o.policy.clock.wallMs() >= s.session.expiresAt) {
        res.write('event: expired\ndata: {}\n\n');
        res.end();
        return;
      }
      res.write(': keep-alive\n\n');
    }, 15_000);
    const done = () => {
      clearInterval(beat);
      remove();
      this.#streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }
}
