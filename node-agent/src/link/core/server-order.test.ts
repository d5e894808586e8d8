import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isHome, otherServers, rotated, serverKey, serverPreference } from './server-order.ts';

const urls = ['nats://10.0.0.1:4222', 'nats://10.0.0.2:4222', 'nats://10.0.0.3:4222'];
const ids = Array.from({ length: 30_000 }, (_, i) => `N${i.toString(36).toUpperCase().padStart(8, 'A')}`);

describe('server-order: a home server per node', () => {
  test('a permutation of the servers, the same every time for a node', () => {
    for (const id of ids.slice(0, 100)) {
      const p = serverPreference(id, urls);
      assert.deepEqual([...p].sort(), [...urls].sort());
      assert.deepEqual(serverPreference(id, urls), p);
      // The order the URLs are listed in does not change a node's preference.
      assert.deepEqual(serverPreference(id, [...urls].reverse()), p);
    }
  });

  test('each server is home to an even share of the fleet (within 3 %)', () => {
    const home = new Map<string, number>();
    for (const id of ids) {
      const h = serverPreference(id, urls)[0] ?? '';
      home.set(h, (home.get(h) ?? 0) + 1);
    }
    assert.equal(home.size, 3);
    for (const [u, n] of home) assert.ok(Math.abs(n / ids.length - 1 / 3) < 0.03, `${u}: ${n}`);
  });

  test("a server's nodes split evenly over the others when it goes (a permutation, not a rotation)", () => {
    const second = new Map<string, number>();
    let of0 = 0;
    for (const id of ids) {
      const p = serverPreference(id, urls);
      if (p[0] !== urls[0]) continue;
      of0++;
      second.set(p[1] ?? '', (second.get(p[1] ?? '') ?? 0) + 1);
    }
    assert.equal(second.size, 2);
    for (const [u, n] of second) assert.ok(Math.abs(n / of0 - 1 / 2) < 0.04, `${u}: ${n} of ${of0}`);
  });

  test('one server: it is home', () => {
    assert.deepEqual(serverPreference('N1', ['nats://a:4222']), ['nats://a:4222']);
    assert.equal(isHome(['nats://a:4222'], 'a:4222'), true);
  });

  test("serverKey names a server as nats.js's getServer() does", () => {
    assert.equal(serverKey('nats://10.0.0.1:4222'), '10.0.0.1:4222');
    assert.equal(serverKey('tls://user:pw@broker.example:7422/'), 'broker.example:7422');
    assert.equal(serverKey('nats://broker.example'), 'broker.example:4222');
    assert.equal(serverKey('[::1]:4223'), '[::1]:4223');
    assert.equal(serverKey('tls://[::1]'), '[::1]:4222');
    assert.equal(serverKey('127.0.0.1:4222'), '127.0.0.1:4222');
  });

  test('otherServers leaves out the current one, in the node order; isHome compares the first', () => {
    const p = serverPreference('NODE', urls);
    const cur = serverKey(p[1] ?? '');
    assert.deepEqual(otherServers(p, cur), [p[0], p[2]]);
    assert.equal(isHome(p, cur), false);
    assert.equal(isHome(p, serverKey(p[0] ?? '')), true);
  });

  test('rotated starts further down the order after failed set-ups, wrapping round', () => {
    const s = ['a', 'b', 'c'];
    assert.deepEqual(rotated(s, 0), ['a', 'b', 'c']);
    assert.deepEqual(rotated(s, 1), ['b', 'c', 'a']);
    assert.deepEqual(rotated(s, 2), ['c', 'a', 'b']);
    assert.deepEqual(rotated(s, 4), ['b', 'c', 'a']);
    // Nothing to rotate, or a count that is not one: the order as given, never a lost server.
    assert.deepEqual(rotated([], 3), []);
    assert.deepEqual(rotated(s, -1), ['a', 'b', 'c']);
    assert.deepEqual(rotated(s, Number.NaN), ['a', 'b', 'c']);
    assert.deepEqual(s, ['a', 'b', 'c']);
  });
});
