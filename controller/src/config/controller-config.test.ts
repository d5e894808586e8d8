import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseControllerConfig } from './controller-config.ts';

const base = { natsUrls: ['nats://127.0.0.1:4222'], keyStoreDir: 'keys', apiTokensFile: 'tokens.json' };
const parse = (o: object) => parseControllerConfig(JSON.stringify(o), '/etc/lf/controller.json');

test('defaults, relative paths and TLS', () => {
  const c = parse({ ...base, insecure: true });
  assert.deepEqual(c.grpcListen, { host: '127.0.0.1', port: 7400 });
  assert.deepEqual(c.metricsListen, { host: '127.0.0.1', port: 9470 });
  assert.equal(c.keyStoreDir, '/etc/lf/keys');
  assert.equal(c.jetstreamReplicas, 1);
  assert.equal(c.offlineAfterMs, 90_000);
  const t = parse({
    ...base,
    grpcListen: '0.0.0.0:7400',
    tls: { certFile: 'a.crt', keyFile: '/k.key' },
    metricsListen: null,
  });
  assert.deepEqual(t.tls, { certFile: '/etc/lf/a.crt', keyFile: '/k.key' });
  assert.equal(t.insecure, false);
  assert.equal(t.metricsListen, undefined);
});

test('refusals name the key', () => {
  for (const [o, re] of [
    [{ ...base, insecure: true, natsUrl: 'x' }, /unknown key "natsUrl"/],
    [{ ...base }, /give "tls"/],
    [{ ...base, insecure: true, grpcListen: '0.0.0.0:7400' }, /only with a loopback/],
    [{ ...base, insecure: true, natsUrls: [] }, /natsUrls/],
    [{ ...base, insecure: true, grpcListen: 'nope' }, /grpcListen/],
    [{ ...base, insecure: true, jetstreamReplicas: 0 }, /jetstreamReplicas/],
    [{ ...base, insecure: true, tls: { certFile: 'a', keyFile: 'b', ca: 'c' } }, /tls\.ca/],
  ] as const)
    assert.throws(() => parse(o), re);
  assert.throws(() => parseControllerConfig('{', 'f'), /not valid JSON/);
});

test('the web console is off by default and needs TLS', () => {
  assert.equal(parse({ ...base, insecure: true }).consoleListen, undefined);
  const tls = { certFile: 'a.crt', keyFile: 'a.key' };
  const c = parse({ ...base, tls, consoleListen: '127.0.0.1:7443', consoleSessionHours: 2 });
  assert.deepEqual(c.consoleListen, { host: '127.0.0.1', port: 7443 });
  assert.equal(c.consoleSessionMs, 2 * 3600_000);
  assert.equal(parse({ ...base, tls }).consoleSessionMs, 8 * 3600_000);
  assert.throws(
    () => parse({ ...base, insecure: true, consoleListen: '127.0.0.1:7443' }),
    /consoleListen needs "tls"/,
  );
  assert.throws(() => parse({ ...base, tls, consoleSessionHours: 0 }), /consoleSessionHours/);
});

test('the offline threshold and the heartbeat are checked together', () => {
  const c = parse({ ...base, insecure: true, heartbeatSeconds: 30, offlineAfterSeconds: 60 });
  assert.equal(c.heartbeatMs, 30_000);
  assert.equal(c.offlineAfterMs, 60_000);
  assert.equal(parse({ ...base, insecure: true }).heartbeatMs, 10_000);
  assert.throws(
    () => parse({ ...base, insecure: true, heartbeatSeconds: 30, offlineAfterSeconds: 20 }),
    /offlineAfterSeconds \(20\) must be longer than the longest gap between two heartbeats, 36 s/,
  );
  assert.throws(
    () => parse({ ...base, insecure: true, offlineAfterSeconds: 12 }),
    /heartbeats, 12 s \(heartbeatSeconds 10/,
    'the default heartbeat counts too; equal is not enough',
  );
  assert.equal(parse({ ...base, insecure: true, offlineAfterSeconds: 13 }).offlineAfterMs, 13_000);
  assert.throws(() => parse({ ...base, insecure: true, heartbeatSeconds: 0 }), /heartbeatSeconds/);
});

test('the renewal spread after a signing-key rotation: an hour by default, 0 to 24 hours', () => {
  assert.equal(parse({ ...base, insecure: true }).rotationRenewalSpreadMs, 3_600_000);
  assert.equal(
    parse({ ...base, insecure: true, rotationRenewalSpreadMinutes: 0 }).rotationRenewalSpreadMs,
    0,
  );
  assert.throws(
    () => parse({ ...base, insecure: true, rotationRenewalSpreadMinutes: 1441 }),
    /rotationRenewalSpreadMinutes/,
  );
});
