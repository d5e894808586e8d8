// The /metrics endpoint on a real loopback socket: answers, refusals, bad requests, shutdown.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { Gauge, Registry } from 'prom-client';
import { startMetricsServer, type MetricsServer } from './metrics-server.ts';
import { parsePromText, sampleValue } from './prom-text.ts';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly bytes: Buffer;
}

function http(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: bytes.toString('utf8'), bytes });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sends raw bytes and returns everything the server writes before it closes. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port }, () => s.end(bytes));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (out += c));
    s.on('close', () => resolve(out));
    s.on('error', reject);
    s.setTimeout(5000, () => s.destroy(new Error('raw request timed out')));
  });
}

describe('metrics server', () => {
  const registry = new Registry();
  let scrapes = 0;
  let failCollect = false;
  const g: Gauge = new Gauge({
    name: 'launchfleet_test_value',
    help: 'A test gauge.',
    registers: [registry],
    collect: () => {
      scrapes++;
      if (failCollect) throw new Error('collector broke');
      g.set(7);
    },
  });
  let server: MetricsServer;
  before(async () => {
    server = await startMetricsServer({ port: 0 }, registry);
  });
  after(async () => {
    await server.close();
  });

  it('binds loopback by default and answers GET /metrics in the Prometheus text format', async () => {
    assert.equal(server.host, '127.0.0.1');
    assert.ok(server.port > 0);
    const r = await http(server.port, 'GET', '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.equal(sampleValue(parsePromText(r.body), 'launchfleet_test_value'), 7);
    assert.equal((await http(server.port, 'GET', '/metrics?debug=1')).status, 200);
    const head = await http(server.port, 'HEAD', '/metrics');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('gzips for a scraper that asks (Prometheus does), plain text otherwise', async () => {
    const z = await http(server.port, 'GET', '/metrics', { 'Accept-Encoding': 'gzip' });
    assert.equal(z.status, 200);
    assert.equal(z.headers['content-encoding'], 'gzip');
    assert.equal(Number(z.headers['content-length']), z.bytes.length);
    const text = gunzipSync(z.bytes).toString('utf8');
    assert.equal(sampleValue(parsePromText(text), 'launchfleet_test_value'), 7);
    const p = await http(server.port, 'GET', '/metrics', { 'Accept-Encoding': 'identity' });
    assert.equal(p.headers['content-encoding'], undefined);
    assert.equal(sampleValue(parsePromText(p.body), 'launchfleet_test_value'), 7);
  });

  it('404 for other paths, 405 for other methods', async () => {
    assert.equal((await http(server.port, 'GET', '/')).status, 404);
    assert.equal((await http(server.port, 'GET', '/metrics/x')).status, 404);
    const post = await http(server.port, 'POST', '/metrics');
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });

  it('survives malformed requests and oversized headers, and keeps serving', async () => {
    assert.match(await raw(server.port, 'GARBAGE\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.match(
      await raw(server.port, `GET /metrics HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`),
      /^HTTP\/1\.1 4\d\d/,
    );
    assert.match(await raw(server.port, '\u0000\u0001\u0002\r\n\r\n'), /^HTTP\/1\.1 400/);
    assert.equal((await http(server.port, 'GET', '/metrics')).status, 200);
  });

  it('a collector that throws answers 500, and the next scrape works', async () => {
    failCollect = true;
    const r = await http(server.port, 'GET', '/metrics');
    assert.equal(r.status, 500);
    assert.match(r.body, /collector broke/);
    failCollect = false;
    assert.equal((await http(server.port, 'GET', '/metrics')).status, 200);
  });

  it('concurrent scrapes all get a complete answer', async () => {
    const before = scrapes;
    const rs = await Promise.all(Array.from({ length: 8 }, () => http(server.port, 'GET', '/metrics')));
    for (const r of rs) {
      assert.equal(r.status, 200);
      assert.equal(sampleValue(parsePromText(r.body), 'launchfleet_test_value'), 7);
    }
    assert.ok(scrapes > before);
  });

  it('a busy port is an Unavailable error, not a crash', async () => {
    await assert.rejects(startMetricsServer({ port: server.port }, registry), (e: Error) => {
      assert.equal(e.name, 'Unavailable');
      assert.match(e.message, /EADDRINUSE/);
      return true;
    });
  });

  it('close() stops listening even with a kept-alive connection open', async () => {
    const s = await startMetricsServer({ port: 0 }, registry);
    const sock = connect({ host: '127.0.0.1', port: s.port });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => sock.once('data', () => r()));
    await s.close();
    await new Promise<void>((r) => (sock.destroyed ? r() : sock.once('close', () => r())));
    await assert.rejects(http(s.port, 'GET', '/metrics'), /ECONNREFUSED/);
  });
});
