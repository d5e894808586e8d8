import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultConfig, parseAgentConfig } from './agent-config.ts';

const d = defaultConfig({ isRoot: true, cwd: '/' });

test('defaults: root keeps state in /var/lib, 842 flavour, 20 s ExitTimeOut, 10 s throttle', () => {
  assert.equal(d.stateDir, '/var/lib/launchfleet');
  assert.deepEqual(d.launchd, { flavor: '842', exitTimeOutSeconds: 20, throttleIntervalSeconds: 10 });
  const dev = defaultConfig({ isRoot: false, cwd: '/home/u/lf' });
  assert.equal(dev.stateDir, '/home/u/lf/.launchfleet/agent/state');
  assert.equal(dev.sessions.source, 'none');
});

test('sessions: the source and an optional utmp file', () => {
  const c = parseAgentConfig('{"sessions":{"source":"utmp","utmpPath":"run/utmp"}}', '/etc/lf/agent.json', d);
  assert.deepEqual(c.sessions, { source: 'utmp', utmpPath: '/etc/lf/run/utmp' });
});

test('relative paths resolve against the config file directory', () => {
  const c = parseAgentConfig(
    '{"stateDir":"state","daemonDirectories":["d1","/abs"]}',
    '/etc/lf/agent.json',
    d,
  );
  assert.equal(c.stateDir, '/etc/lf/state');
  assert.deepEqual(c.daemonDirectories, ['/etc/lf/d1', '/abs']);
});

test('metricsListen accepts host:port, [v6]:port and null', () => {
  assert.deepEqual(parseAgentConfig('{"metricsListen":"0.0.0.0:9100"}', '/a.json', d).metricsListen, {
    host: '0.0.0.0',
    port: 9100,
  });
  assert.deepEqual(parseAgentConfig('{"metricsListen":"[::1]:9100"}', '/a.json', d).metricsListen, {
    host: '::1',
    port: 9100,
  });
  assert.equal(parseAgentConfig('{"metricsListen":null}', '/a.json', d).metricsListen, undefined);
});

test('bad input names the key and what was expected', () => {
  const cases: [string, RegExp][] = [
    ['nope', /not valid JSON/],
    ['[]', /top level must be an object/],
    ['{"stateDr":"/x"}', /unknown key "stateDr"/],
    ['{"launchd":{"flavor":"10.4"}}', /launchd.flavor: expected "842" or "modern"/],
    ['{"launchd":{"exitTimeOutSeconds":-1}}', /launchd.exitTimeOutSeconds/],
    ['{"metricsListen":"9100"}', /metricsListen: expected "host:port"/],
    ['{"controller":{"natsUrls":[]}}', /controller.natsUrls/],
    ['{"sessions":{"source":"x"}}', /sessions.source/],
    ['{"sessions":{"source":"utmp","utmp":"/x"}}', /unknown key "sessions.utmp"/],
    ['{"sessions":{"source":"utmp","utmpPath":3}}', /sessions.utmpPath: expected a non-empty path/],
    ['{"daemonDirectories":"/x"}', /daemonDirectories: expected an array/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseAgentConfig(text, '/a.json', d), re, text);
});

test('controller.labels are selector labels: safe keys and values only', () => {
  const c = parseAgentConfig(
    '{"controller":{"natsUrls":["nats://127.0.0.1:4222"],"labels":{"site":"ams","role":"kiosk"}}}',
    '/a.json',
    d,
  );
  assert.deepEqual(c.controller?.labels, { site: 'ams', role: 'kiosk' });
  assert.throws(
    () => parseAgentConfig('{"controller":{"natsUrls":["nats://x"],"labels":{"a b":"c"}}}', '/a.json', d),
    /controller.labels.a b/,
  );
  assert.throws(
    () => parseAgentConfig('{"controller":{"natsUrls":["nats://x"],"labels":{"a":"x>"}}}', '/a.json', d),
    /controller.labels.a/,
  );
});

test('controller.heartbeatSeconds: a whole number of seconds', () => {
  const c = parseAgentConfig('{"controller":{"natsUrls":["nats://x"],"heartbeatSeconds":30}}', '/a.json', d);
  assert.equal(c.controller?.heartbeatSeconds, 30);
  for (const bad of ['0', '1.5', '"10"', '4000'])
    assert.throws(
      () =>
        parseAgentConfig(`{"controller":{"natsUrls":["nats://x"],"heartbeatSeconds":${bad}}}`, '/a.json', d),
      /controller.heartbeatSeconds: expected a whole number of seconds/,
      bad,
    );
});
