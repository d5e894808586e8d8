/**
 * The console's request checks, pure (no I/O, times passed in):
 * - sessions: the stored record, its server-side expiry, the cookie that names it;
 * - CSRF: a state-changing request must come from the console's own origin (Origin, or
 *   Sec-Fetch-Site when a browser sends it) AND carry the session's CSRF token;
 * - where a sign-in may send the browser next (same-origin paths only).
 */

/** The cookie that carries a session id. `__Host-` makes browsers insist on Secure, Path=/ and no Domain. */
export const sessionCookieName = '__Host-lf_session';

/** A stored session (KV `lf_console`, key = SHA-256 of the cookie value). */
export interface SessionRecord {
  readonly v: 1;
  /** SHA-256 (hex) of the API token signed in with; its role is looked up on every request. */
  readonly tokenSha256: string;
  /** The token's name when the session began (the audit stream's `who`). */
  readonly name: string;
  /** The form token of this session (random, base64url). */
  readonly csrf: string;
  readonly createdAt: number;
  /** Wall ms after which the session is refused, whatever the cookie says. */
  readonly expiresAt: number;
}

export function encodeSession(s: SessionRecord): string {
  return JSON.stringify(s);
}

/** A stored session, or undefined for anything that is not one. */
export function decodeSession(text: string): SessionRecord | undefined {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof o !== 'object' || o === null) return undefined;
  const r = o as Record<string, unknown>;
  if (
    r['v'] !== 1 ||
    typeof r['tokenSha256'] !== 'string' ||
    !/^[0-9a-f]{64}$/.test(r['tokenSha256']) ||
    typeof r['name'] !== 'string' ||
    typeof r['csrf'] !== 'string' ||
    r['csrf'].length < 32 ||
    typeof r['createdAt'] !== 'number' ||
    typeof r['expiresAt'] !== 'number'
  )
    return undefined;
  return {
    v: 1,
    tokenSha256: r['tokenSha256'],
    name: r['name'],
    csrf: r['csrf'],
    createdAt: r['createdAt'],
    expiresAt: r['expiresAt'],
  };
}

export function isExpired(s: SessionRecord, now: number): boolean {
  return now >= s.expiresAt;
}

/** Session ids are 32 random bytes, base64url (43 characters). */
export const sessionIdPattern = /^[A-Za-z0-9_-]{43}$/;

/** The session id from a Cookie header, if it carries a well-formed one. */
export function sessionIdFromCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() !== sessionCookieName) continue;
    const v = part.slice(eq + 1).trim();
    return sessionIdPattern.test(v) ? v : undefined;
  }
  return undefined;
}

/** The Set-Cookie value for a session (or, with `maxAgeSeconds` 0, the one that clears it). */
export function sessionCookie(id: string, maxAgeSeconds: number): string {
  return `${sessionCookieName}=${id}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; HttpOnly; Secure; SameSite=Strict`;
}

/** Headers a state-changing request is judged by. */
export interface OriginHeaders {
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly secFetchSite: string | undefined;
}

/**
 * Undefined when the request comes from the console's own origin, else why not. The Origin
 * header must be present and name `https://<Host>`; a browser's `Sec-Fetch-Site`, when sent,
 * must be `same-origin`. (Every current browser sends Origin on a POST, cross-site or not.)
 */
export function crossSiteReason(h: OriginHeaders): string | undefined {
  if (h.secFetchSite !== undefined && h.secFetchSite !== 'same-origin')
    return `cross-site request refused (Sec-Fetch-Site: ${h.secFetchSite.slice(0, 32)})`;
  if (!h.origin) return 'request refused: no Origin header';
  if (!h.host || h.origin !== `https://${h.host}`)
    return `cross-origin request refused (Origin ${h.origin.slice(0, 100)})`;
  return undefined;
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || presented.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= presented.charCodeAt(i) ^ expected.charCodeAt(i);
  return diff === 0;
}

/** Where to go after signing in: a same-origin path of the console, else `/`. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if ([...next].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f) || next.length > 2000)
    return '/';
  return next;
}
