import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  crossSiteReason,
  csrfMatches,
  decodeSession,
  encodeSession,
  isExpired,
  safeNext,
  sessionCookie,
  sessionIdFromCookie,
} from './request-guard.ts';

const id = 'A'.repeat(43);

test('a session id is read only from its own well-formed cookie', () => {
  assert.equal(sessionIdFromCookie(`a=b; __Host-lf_session=${id}; c=d`), id);
  assert.equal(sessionIdFromCookie(`lf_session=${id}`), undefined);
  assert.equal(sessionIdFromCookie(`__Host-lf_session=${id}x`), undefined);
  assert.equal(sessionIdFromCookie(`__Host-lf_session=<script>`), undefined);
  assert.equal(sessionIdFromCookie(undefined), undefined);
});

test('the session cookie is HttpOnly, Secure, SameSite=Strict', () => {
  const c = sessionCookie(id, 3600);
  for (const part of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Max-Age=3600'])
    assert.ok(c.includes(part), part);
  assert.match(sessionCookie(id, 0), /Max-Age=0/);
});

test('sessions expire on the server side and malformed records are refused', () => {
  const s = {
    v: 1 as const,
    tokenSha256: 'a'.repeat(64),
    name: 'ada',
    csrf: 'c'.repeat(43),
    createdAt: 1000,
    expiresAt: 2000,
  };
  assert.deepEqual(decodeSession(encodeSession(s)), s);
  assert.equal(isExpired(s, 1999), false);
  assert.equal(isExpired(s, 2000), true);
  assert.equal(decodeSession('{"v":1}'), undefined);
  assert.equal(decodeSession('not json'), undefined);
  assert.equal(decodeSession(JSON.stringify({ ...s, csrf: 'short' })), undefined);
});

test('only same-origin requests pass the origin check', () => {
  const host = '127.0.0.1:7443';
  assert.equal(crossSiteReason({ host, origin: `https://${host}`, secFetchSite: 'same-origin' }), undefined);
  assert.equal(crossSiteReason({ host, origin: `https://${host}`, secFetchSite: undefined }), undefined);
  assert.match(
    crossSiteReason({ host, origin: 'https://evil.example', secFetchSite: 'cross-site' }) ?? '',
    /cross-site/,
  );
  assert.match(
    crossSiteReason({ host, origin: 'https://evil.example', secFetchSite: undefined }) ?? '',
    /Origin/,
  );
  assert.match(crossSiteReason({ host, origin: `http://${host}`, secFetchSite: undefined }) ?? '', /Origin/);
  assert.match(crossSiteReason({ host, origin: undefined, secFetchSite: undefined }) ?? '', /no Origin/);
  assert.match(crossSiteReason({ host, origin: 'null', secFetchSite: undefined }) ?? '', /Origin/);
});

test('CSRF tokens compare exactly', () => {
  const t = 'x'.repeat(43);
  assert.equal(csrfMatches(t, t), true);
  assert.equal(csrfMatches(`${'x'.repeat(42)}y`, t), false);
  assert.equal(csrfMatches(undefined, t), false);
  assert.equal(csrfMatches('', t), false);
});

test('after sign-in only same-origin paths are followed', () => {
  assert.equal(safeNext('/jobs?state=running'), '/jobs?state=running');
  assert.equal(safeNext('https://evil.example/'), '/');
  assert.equal(safeNext('//evil.example/'), '/');
  assert.equal(safeNext('/\\evil.example'), '/');
  assert.equal(safeNext(null), '/');
});
