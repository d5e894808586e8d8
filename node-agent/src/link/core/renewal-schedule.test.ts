import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  credentialsState,
  defaultRenewalPolicy as p,
  nudgedTime,
  renewalTime,
  retryTime,
} from './renewal-schedule.ts';

const day = 24 * 3600_000;
const issued = 1_000 * day;
const c = { issuedAtMs: issued, expiresAtMs: issued + 30 * day };

test('the renewal time is a uniform point of [50 %, 80 %) of the lifetime', () => {
  assert.equal(renewalTime(c, 0), issued + 15 * day);
  assert.equal(renewalTime(c, 0.5), issued + 19.5 * day);
  assert.ok((renewalTime(c, 0.999999) ?? 0) < issued + 24 * day);
  assert.equal(renewalTime({ issuedAtMs: issued, expiresAtMs: undefined }, 0.3), undefined);
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.integer({ min: 60_000, max: 400 * day }),
      (u, life) => {
        const t = renewalTime({ issuedAtMs: issued, expiresAtMs: issued + life }, u) ?? -1;
        return t >= issued + life * p.windowStart - 1 && t < issued + life * p.windowEnd;
      },
    ),
  );
});

test('50,000 nodes enrolled at one instant renew spread over the window', () => {
  // The arithmetic of the header, with a seeded draw: no minute of the 9-day window gets more
  // than a handful (uniform: 3.9 a minute on average).
  // mulberry32, seeded: the same draws on every run.
  let a = 42;
  const rand = () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const perMinute = new Map<number, number>();
  for (let i = 0; i < 50_000; i++) {
    const m = Math.floor(((renewalTime(c, rand()) ?? 0) - issued) / 60_000);
    perMinute.set(m, (perMinute.get(m) ?? 0) + 1);
  }
  const minutes = [...perMinute.keys()];
  assert.ok(Math.min(...minutes) >= 15 * 1440 && Math.max(...minutes) < 24 * 1440);
  assert.ok(Math.max(...perMinute.values()) <= 16, String(Math.max(...perMinute.values())));
});

test('state: valid, renewal due, expired; no expiry is its own state', () => {
  const at = renewalTime(c, 0.5);
  assert.equal(credentialsState(c, at, issued + day), 'valid');
  assert.equal(credentialsState(c, at, issued + 20 * day), 'renewal-due');
  assert.equal(credentialsState(c, at, issued + 30 * day), 'expired');
  assert.equal(credentialsState({ issuedAtMs: 0, expiresAtMs: undefined }, undefined, 5), 'no-expiry');
  // Asked to renew all the same (a nudge): due once its time has come.
  assert.equal(credentialsState({ issuedAtMs: 0, expiresAtMs: undefined }, 10, 5), 'no-expiry');
  assert.equal(credentialsState({ issuedAtMs: 0, expiresAtMs: undefined }, 5, 5), 'renewal-due');
});

test('retries: full jitter growing to the cap, always before expiry and never now', () => {
  const now = issued + 20 * day;
  assert.equal(retryTime(now, 1, 0, c.expiresAtMs), now + 1);
  assert.ok(retryTime(now, 1, 0.99, c.expiresAtMs) <= now + p.retryBaseMs);
  assert.ok(retryTime(now, 30, 0.99, c.expiresAtMs) <= now + p.retryCapMs);
  assert.ok(retryTime(now, 30, 0.99, c.expiresAtMs) > now + p.retryCapMs / 2);
  // One minute before expiry, the next try is within 30 s.
  const late = c.expiresAtMs - 60_000;
  assert.ok(retryTime(late, 30, 0.99, c.expiresAtMs) <= late + 30_001);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 100 }), fc.double({ min: 0, max: 1, noNaN: true }), (n, u) => {
      const t = retryTime(now, n, u, c.expiresAtMs);
      return t > now && t < c.expiresAtMs;
    }),
  );
});

test('a nudge only moves the renewal earlier', () => {
  const now = issued + day;
  const planned = renewalTime(c, 0.5);
  assert.equal(nudgedTime(planned, now, 600_000, 0.5), now + 300_000);
  assert.equal(nudgedTime(now + 1000, now, 600_000, 0.5), now + 1000);
  assert.equal(nudgedTime(undefined, now, 600_000, 0), now);
});
