/**
 * The nats-server test harness itself: ready when it says so, restart keeps JetStream data,
 * stop leaves no process and no directory behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { startServer } from '../support/nats-server.ts';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('a server starts on loopback, restarts with its data, and stops cleanly', async () => {
  const s = await startServer();
  let stopped = false;
  try {
    assert.match(s.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
    const nc = await connect({ servers: s.url, maxReconnectAttempts: -1, reconnectTimeWait: 50 });
    try {
      // Short API timeout: a request sent while the server restarts is retried, not waited out.
      const kv = await new Kvm(jetstream(nc, { timeout: 500 })).create('probe');
      await kv.put('k', 'v1');
      const before = s.pid;
      await s.restart();
      assert.notEqual(s.pid, before);
      assert.ok(!alive(before));
      const deadline = Date.now() + 10_000;
      let value: string | undefined;
      while (value === undefined && Date.now() < deadline) {
        value = await kv
          .get('k')
          .then((e) => e?.string())
          .catch(() => undefined);
        if (value === undefined) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(value, 'v1');
    } finally {
      await nc.close();
    }
    const pid = s.pid;
    await s.stop();
    stopped = true;
    assert.ok(!alive(pid), 'process gone');
    await assert.rejects(access(s.dir), /ENOENT/, 'directory removed');
  } finally {
    if (!stopped) await s.stop();
  }
});

test('a bad config fails fast and the error carries the server log', async () => {
  await assert.rejects(
    startServer({ extraConfig: 'this is { not valid' }),
    /exited during start[\s\S]*nats-server/,
  );
});
