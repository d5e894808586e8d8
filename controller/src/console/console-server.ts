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
 *
 * This file routes a request; the answers are console-http.ts's, the assets console-assets.ts's,
 * sign-in and sessions console-sessions.ts's, the event streams console-event-streams.ts's.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { messageOf } from '@launchfleet/shared';
import type { ApiPrincipal, ApiTokenTable } from '../auth/api-tokens.ts';
import { atLeast, rolloutMethodPolicy } from '../auth/core/roles.ts';
import { type PolicyEffects, runUnderPolicy } from '../api/grpc-methods.ts';
import type { HostPort } from '../config/controller-config.ts';
import type { SafeHtml } from './core/html.ts';
import { csrfMatches, safeNext, sessionIdFromCookie } from './core/request-guard.ts';
import type { SessionStore } from './session-store.ts';
import type { LiveFeed } from './live-feed.ts';
import { type ConsoleData, routeOf } from './console-routes.ts';
import { type ConsoleActions, isCommand } from './console-actions.ts';
import { type Viewer, errorPage, loginPage } from './views/layout.ts';
import {
  crossSiteRefusal,
  readForm,
  redirect,
  securityHeaders,
  sendFailure,
  sendHtml,
} from './console-http.ts';
import { type Asset, loadAssets, serveAsset } from './console-assets.ts';
import { ConsoleSessions } from './console-sessions.ts';
import { ConsoleEventStreams } from './console-event-streams.ts';

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

export async function startConsoleServer(o: ConsoleServerOptions): Promise<ConsoleServer> {
  const c = new Console(o, await loadAssets());
  const server = createServer(
    { cert: await readFile(o.tls.certFile), key: await readFile(o.tls.keyFile), minVersion: 'TLSv1.2' },
    (req, res) => {
      c.handle(req, res).catch((e: unknown) => {
        o.policy.log(`controller: console: ${req.method} ${req.url?.slice(0, 200)}: ${messageOf(e)}`);
        if (!res.headersSent)
          sendHtml(res, 500, errorPage(undefined, 'Error', 'internal error; see the controller log'));
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
  readonly #assets: ReadonlyMap<string, Asset>;
  readonly #sessions: ConsoleSessions;
  readonly #streams: ConsoleEventStreams;

  constructor(o: ConsoleServerOptions, assets: ReadonlyMap<string, Asset>) {
    this.#o = o;
    this.#assets = assets;
    this.#sessions = new ConsoleSessions({ tokens: o.tokens, sessions: o.sessions, policy: o.policy });
    this.#streams = new ConsoleEventStreams({
      feed: o.feed,
      clock: o.policy.clock,
      maxStreams: o.maxStreams ?? 256,
    });
  }

  closeStreams(): void {
    this.#streams.closeAll();
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
      sendHtml(res, 400, errorPage(undefined, 'Bad request', 'the path is not valid percent-encoding'));
      return;
    }
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    const [first, second, third] = segments;
    if (first === 'assets' && get && second !== undefined && segments.length === 2)
      return serveAsset(req, res, this.#assets, second);
    if (first === 'login' && segments.length === 1) {
      if (get) {
        const reason =
          url.searchParams.get('expired') === '1' ? 'Your session ended; sign in again.' : undefined;
        sendHtml(
          res,
          200,
          loginPage({ next: safeNext(url.searchParams.get('next')), ...(reason && { error: reason }) }),
        );
        return;
      }
      if (method === 'POST') return this.#sessions.signIn(req, res);
    }
    const signed = await this.#sessions.signed(req);
    if (!signed) {
      if (first === 'events' || first === 'session' || !get) {
        sendHtml(
          res,
          401,
          errorPage(undefined, 'Not signed in', 'Sign in first (your session may have expired).', '/login'),
        );
        return;
      }
      const had = sessionIdFromCookie(req.headers.cookie) !== undefined;
      const next = `${url.pathname}${url.search}`;
      redirect(res, `/login?next=${encodeURIComponent(next)}${had ? '&expired=1' : ''}`);
      return;
    }
    const v: Viewer = { name: signed.principal.name, role: signed.principal.role, csrf: signed.session.csrf };
    if (first === 'session' && get && segments.length === 1) {
      res.writeHead(204, { ...securityHeaders, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    if (first === 'events' && get && segments.length === 1) return this.#streams.open(req, res, signed);
    if (method === 'POST') {
      const refused = crossSiteRefusal(req);
      if (refused) {
        sendHtml(res, 403, errorPage(v, 'Not allowed', refused));
        return;
      }
      const form = await readForm(req, res, v);
      if (!form) return;
      if (!csrfMatches(form.get('_csrf') ?? undefined, signed.session.csrf)) {
        sendHtml(
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
      if (first === 'logout' && segments.length === 1) return this.#sessions.signOut(res, signed);
      if (first === 'rollouts' && segments.length === 1) {
        const r = await this.#o.actions.start(signed.principal, form);
        if ('failure' in r)
          return sendFailure(res, v, r.failure, `/jobs/${encodeURIComponent(form.get('label') ?? '')}`);
        this.#o.feed.touch('rollouts', `rollout:${r.id}`);
        return redirect(res, `/rollouts/${encodeURIComponent(r.id)}?did=started`);
      }
      if (
        first === 'rollouts' &&
        second !== undefined &&
        third !== undefined &&
        segments.length === 3 &&
        isCommand(third)
      ) {
        const r = await this.#o.actions.command(signed.principal, third, second, form.get('reason') ?? '');
        if ('failure' in r) return sendFailure(res, v, r.failure, `/rollouts/${encodeURIComponent(second)}`);
        this.#o.feed.touch('rollouts', `rollout:${second}`);
        return redirect(res, `/rollouts/${encodeURIComponent(second)}?did=${third}`);
      }
      sendHtml(res, 404, errorPage(v, 'Not found', 'no such action'));
      return;
    }
    if (!get) {
      sendHtml(res, 405, errorPage(v, 'Method not allowed', `${method.slice(0, 16)} is not used here`), {
        allow: 'GET, POST',
      });
      return;
    }
    const route = routeOf(segments);
    if (!route) {
      sendHtml(res, 404, errorPage(v, 'Not found', 'no such page'));
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
    if (failure !== undefined || !body) return sendFailure(res, v, failure, undefined, rule.reads);
    sendHtml(res, 200, body, { 'server-timing': `render;dur=${(performance.now() - t0).toFixed(1)}` });
  }
}
