/**
 * Signing in and out of the console. Sign-in takes an API token (looked up in the token table,
 * run under the ConsoleSignIn rule so it is audited like an API call) and gives a session cookie;
 * failed sign-ins are limited per client address (20 per 5 minutes, the table bounded). A
 * request is signed in while its session lives and its token is still in the table.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiPrincipal, type ApiTokenTable, hashApiToken } from '../auth/api-tokens.ts';
import { consoleMethodPolicy } from '../auth/core/roles.ts';
import { UnauthenticatedError } from '../auth/unauthenticated-error.ts';
import { type PolicyEffects, runUnderPolicy } from '../api/grpc-methods.ts';
import { type SessionRecord, safeNext, sessionCookie, sessionIdFromCookie } from './core/request-guard.ts';
import type { SessionStore } from './session-store.ts';
import { crossSiteRefusal, readForm, redirect, sendFailure, sendHtml } from './console-http.ts';
import { errorPage, loginPage } from './views/layout.ts';

/** A signed-in request. */
export interface Signed {
  readonly id: string;
  readonly session: SessionRecord;
  readonly principal: ApiPrincipal;
}

export interface ConsoleSessionsOptions {
  readonly tokens: ApiTokenTable;
  readonly sessions: SessionStore;
  readonly policy: PolicyEffects;
}

export class ConsoleSessions {
  readonly #o: ConsoleSessionsOptions;
  /** Failed sign-ins per client address in the current window (bounded). */
  readonly #failures = new Map<string, { n: number; since: number }>();

  constructor(o: ConsoleSessionsOptions) {
    this.#o = o;
  }

  /** The live session of the request, with its principal as the token table says today. */
  async signed(req: IncomingMessage): Promise<Signed | undefined> {
    const id = sessionIdFromCookie(req.headers.cookie);
    if (!id) return undefined;
    const session = await this.#o.sessions.get(id, this.#o.policy.clock.wallMs());
    if (!session) return undefined;
    const principal = this.#o.tokens.byHash(session.tokenSha256);
    return principal ? { id, session, principal } : undefined;
  }

  /** POST /login. */
  async signIn(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refused = crossSiteRefusal(req);
    if (refused) {
      sendHtml(res, 403, errorPage(undefined, 'Not allowed', refused));
      return;
    }
    const addr = req.socket.remoteAddress ?? '';
    const now = this.#o.policy.clock.wallMs();
    const f = this.#failures.get(addr);
    if (f && now - f.since < 5 * 60_000 && f.n >= 20) {
      sendHtml(
        res,
        429,
        loginPage({ next: '/', error: 'Too many failed sign-ins from this address; wait a few minutes.' }),
      );
      return;
    }
    const form = await readForm(req, res, undefined);
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
        sendHtml(res, 401, loginPage({ next, error: 'That token is not known to this controller.' }));
        return;
      }
      return sendFailure(res, undefined, failure, '/login');
    }
    this.#failures.delete(addr);
    redirect(res, next, { 'set-cookie': cookie });
  }

  /** POST /logout (the session is deleted on the server). */
  async signOut(res: ServerResponse, s: Signed): Promise<void> {
    const failure = await runUnderPolicy(
      this.#o.policy,
      'ConsoleSignOut',
      consoleMethodPolicy.ConsoleSignOut,
      () => s.principal,
      'console',
      () => this.#o.sessions.delete(s.id),
    );
    if (failure !== undefined) return sendFailure(res, undefined, failure);
    redirect(res, '/login', { 'set-cookie': sessionCookie('', 0) });
  }
}
