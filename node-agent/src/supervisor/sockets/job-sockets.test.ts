// The socket set of one job against a scripted SocketPort: planning (families, names, errors),
// cleanup on a failed load, watches armed only while idle, the handoff, inetd accept with a cap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SocketGroup } from '@launchfleet/shared/job';
import type { SocketBindRequest, SocketPort, SocketResult, SocketWatch } from '../../ports/socket-port.ts';
import { jobSpec, type JobSpecInput } from '../../testing/job-spec-builder.ts';
import type { ConnectionSpawn, SocketJobContext } from './socket-activation-hook.ts';
import { JobSockets } from './job-sockets.ts';
import { fdNameOf } from './socket-plan.ts';

/** A scripted port: binds hand out fds from 10; `failOn` makes a bind fail; accept queues per fd. */
class FakeSocketPort implements SocketPort {
  next = 10;
  readonly bound: SocketBindRequest[] = [];
  readonly closed: number[] = [];
  readonly watches = new Map<number, (err: Error | null) => void>();
  readonly backlog = new Map<number, number>();
  failOn: ((r: SocketBindRequest) => string | undefined) | undefined;
  services: Record<string, number> = { http: 80 };

  resolveService(service: string): Promise<number | undefined> {
    return Promise.resolve(/^\d+$/.test(service) ? Number(service) : this.services[service]);
  }
  resolveNode(node: string, family: 'ipv4' | 'ipv6' | undefined) {
    const all =
      node === 'localhost'
        ? [
            { address: '127.0.0.1', family: 'ipv4' as const },
            { address: '::1', family: 'ipv6' as const },
          ]
        : [];
    return Promise.resolve(
      node === 'nowhere.invalid'
        ? { ok: false as const, code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND' }
        : { ok: true as const, addresses: all.filter((a) => family === undefined || a.family === family) },
    );
  }
  bind(req: SocketBindRequest): SocketResult<{ socket: { fd: number } }> {
    const code = this.failOn?.(req);
    if (code) return { ok: false, code, message: `bind ${code}` };
    this.bound.push(req);
    return { ok: true, socket: { fd: this.next++ } };
  }
  watchReadable(fd: number, cb: (err: Error | null) => void): SocketWatch {
    this.watches.set(fd, cb);
    return { stop: () => this.watches.delete(fd) };
  }
  /** Makes `fd` readable: fires its watch (one-shot). */
  fire(fd: number): void {
    const cb = this.watches.get(fd);
    this.watches.delete(fd);
    cb?.(null);
  }
  accept(fd: number): SocketResult<{ fd: number | null }> {
    const n = this.backlog.get(fd) ?? 0;
    if (n === 0) return { ok: true, fd: null };
    this.backlog.set(fd, n - 1);
    return { ok: true, fd: this.next++ };
  }
  readonly joined: [number, string, boolean][] = [];
  joinMulticast(fd: number, group: string, v6: boolean): SocketResult<object> {
    if (group.startsWith('ff')) return { ok: false, code: 'ENODEV', message: 'setsockopt ENODEV' };
    this.joined.push([fd, group, v6]);
    return { ok: true };
  }
  makePrivateDirectory(prefix: string): Promise<SocketResult<{ path: string }>> {
    return Promise.resolve({ ok: true, path: `${prefix}abc123` });
  }
  close(fd: number): void {
    this.closed.push(fd);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

function setup(sockets: SocketGroup[], over: JobSpecInput = {}, max = 64) {
  const port = new FakeSocketPort();
  const logs: string[] = [];
  const spawned: { fd: number; exit: () => void }[] = [];
  const ctx: SocketJobContext = {
    target: 'system',
    spawnConnection: (fd) =>
      new Promise<ConnectionSpawn>((resolve) => {
        let exit: () => void = () => undefined;
        const exited = new Promise<void>((r) => (exit = r));
        spawned.push({ fd, exit });
        resolve({ ok: true, pid: 1000 + fd, exited });
      }),
  };
  const spec = jobSpec('t.sock', { sockets, ...over });
  const open = () =>
    JobSockets.open(spec, { port, log: (l, _, m) => logs.push(`${l} ${m}`), maxInetdInstances: max }, ctx);
  return { port, logs, spawned, spec, open };
}

const tcp = (service: string, extra: object = {}) => ({
  type: 'stream' as const,
  passive: true,
  family: 'unspecified' as const,
  serviceName: service,
  ...extra,
});

describe('JobSockets: planning and opening', () => {
  it('no family: an IPv4 and an IPv6 wildcard socket, the group name once per fd', async () => {
    const t = setup([{ name: 'Listeners', sockets: [tcp('8080')] }]);
    const r = await t.open();
    assert.ok(r.ok);
    assert.deepEqual(
      t.port.bound.map((b) => [
        b.family,
        'port' in b ? b.port : undefined,
        'address' in b ? b.address : undefined,
      ]),
      [
        ['ipv4', 8080, undefined],
        ['ipv6', 8080, undefined],
      ],
    );
    assert.deepEqual(r.sockets.handoff(), { passFds: [10, 11], listenFdNames: ['Listeners', 'Listeners'] });
  });

  it('several groups, several sockets, a node name per address, service names', async () => {
    const t = setup([
      { name: 'Web', sockets: [tcp('http', { nodeName: 'localhost' })] },
      {
        name: 'Admin',
        sockets: [
          tcp('9000', { family: 'IPv4', nodeName: 'localhost' }),
          { type: 'stream', passive: true, family: 'Unix', pathName: '/run/x.sock', pathMode: 0o660 },
        ],
      },
    ]);
    const r = await t.open();
    assert.ok(r.ok);
    assert.deepEqual(r.sockets.handoff().listenFdNames, ['Web', 'Web', 'Admin', 'Admin']);
    assert.deepEqual(t.port.bound[0], { family: 'ipv4', type: 'stream', port: 80, address: '127.0.0.1' });
    assert.deepEqual(t.port.bound[3], { family: 'unix', type: 'stream', path: '/run/x.sock', mode: 0o660 });
  });

  it('errors name the socket and close what was opened', async () => {
    const t = setup([{ name: 'Web', sockets: [tcp('81'), tcp('82')] }]);
    t.port.failOn = (b) => ('port' in b && b.port === 82 && b.family === 'ipv4' ? 'EADDRINUSE' : undefined);
    const r = await t.open();
    assert.ok(!r.ok);
    assert.match(r.message, /^Sockets\.Web\[1\] \(tcp 0\.0\.0\.0:82\): address already in use/);
    assert.deepEqual(t.port.closed, [10, 11]);
  });

  it('unknown service, unresolvable node, UDP over a stream, a missing path: refused with the reason', async () => {
    const cases: [SocketGroup, RegExp][] = [
      [{ name: 'A', sockets: [tcp('nosuch')] }, /Sockets\.A: unknown service name "nosuch"/],
      [
        { name: 'B', sockets: [tcp('1', { nodeName: 'nowhere.invalid' })] },
        /Sockets\.B: SockNodeName "nowhere\.invalid" does not resolve/,
      ],
      [{ name: 'C', sockets: [tcp('1', { protocol: 'UDP' })] }, /SockProtocol=UDP needs SockType=dgram/],
      [
        { name: 'D', sockets: [{ type: 'stream', passive: true, family: 'Unix' }] },
        /Sockets\.D: SockFamily=Unix needs SockPathName/,
      ],
    ];
    for (const [g, re] of cases) {
      const r = await setup([g]).open();
      assert.ok(!r.ok, g.name);
      assert.match(r.message, re);
    }
  });

  it('no IPv6 on the host: the wildcard pair degrades to IPv4 with a warning', async () => {
    const t = setup([{ name: 'L', sockets: [tcp('80')] }]);
    t.port.failOn = (b) => (b.family === 'ipv6' ? 'EAFNOSUPPORT' : undefined);
    const r = await t.open();
    assert.ok(r.ok);
    assert.equal(r.sockets.handoff().passFds.length, 1);
    assert.ok(r.warnings.some((w) => /no IPv6 on this host/.test(w)));
  });

  it('warns for Bonjour, SockPassive=false and unsafe LISTEN_FDNAMES, and still loads', async () => {
    const t = setup([
      { name: 'a:b', sockets: [tcp('80', { bonjour: true, family: 'IPv4' })] },
      { name: 'C', sockets: [tcp('81', { passive: false })] },
    ]);
    const r = await t.open();
    assert.ok(r.ok);
    assert.equal(fdNameOf('a:b'), 'a_b');
    assert.deepEqual(r.sockets.handoff().listenFdNames, ['a_b']);
    assert.equal(r.warnings.filter((w) => /Bonjour|SockPassive=false|LISTEN_FDNAMES/.test(w)).length, 3);
  });

  it('MulticastGroup: datagram sockets bound without SO_REUSEADDR join the group of their family; a failed join warns', async () => {
    const t = setup([
      {
        name: 'M',
        sockets: [
          {
            type: 'dgram',
            passive: true,
            family: 'unspecified',
            serviceName: '5353',
            multicastGroup: '224.0.0.251',
          },
        ],
      },
      {
        name: 'N',
        sockets: [
          { type: 'dgram', passive: true, family: 'IPv6', serviceName: '5353', multicastGroup: 'ff02::fb' },
        ],
      },
    ]);
    const r = await t.open();
    assert.ok(r.ok);
    assert.deepEqual(
      t.port.bound.map((b) => [b.family, 'multicast' in b ? b.multicast : false]),
      [
        ['ipv4', true],
        ['ipv6', true],
        ['ipv6', true],
      ],
    );
    assert.deepEqual(t.port.joined, [[10, '224.0.0.251', false]]);
    assert.ok(r.warnings.some((w) => /MulticastGroup ff02::fb not joined: setsockopt ENODEV/.test(w)));
  });

  it('SecureSocketWithKey: a private directory, the path in the job environment', async () => {
    const t = setup([
      {
        name: 'Listeners',
        sockets: [
          { type: 'stream', passive: true, family: 'unspecified', secureSocketWithKey: 'SSH_AUTH_SOCK' },
        ],
      },
    ]);
    const r = await t.open();
    assert.ok(r.ok);
    assert.deepEqual(r.sockets.handoff().env, { SSH_AUTH_SOCK: '/tmp/launch-abc123/Listeners' });
  });
});

describe('JobSockets: watching and handing over', () => {
  it('watches every fd while armed; a readable fd counts an activation and calls back once', async () => {
    const t = setup([{ name: 'L', sockets: [tcp('80')] }]);
    const r = await t.open();
    assert.ok(r.ok);
    let readable = 0;
    const d = r.sockets.arm(() => readable++);
    assert.deepEqual([...t.port.watches.keys()], [10, 11]);
    assert.deepEqual(
      r.sockets.status().sockets.map((s) => s.state),
      ['watching', 'watching'],
    );
    t.port.fire(11);
    assert.equal(readable, 1);
    d.dispose(); // the machine disarms at spawn
    assert.equal(t.port.watches.size, 0);
    r.sockets.handoff();
    assert.deepEqual(
      r.sockets.status().sockets.map((s) => [s.state, s.activations]),
      [
        ['active', 0],
        ['active', 1],
      ],
    );
    r.sockets.close();
    assert.deepEqual(t.port.closed, [10, 11]);
    assert.deepEqual(
      r.sockets.status().sockets.map((s) => s.state),
      ['closed', 'closed'],
    );
    assert.equal(r.sockets.arm(() => readable++) !== undefined, true);
    assert.equal(t.port.watches.size, 0, 'never watches a closed fd');
  });

  it('inetd Wait=true: the readable socket on 0/1/2, stdout keeping its path', async () => {
    const t = setup(
      [{ name: 'L', sockets: [tcp('80', { family: 'IPv4' }), tcp('81', { family: 'IPv4' })] }],
      {
        inetdCompatibility: { wait: true },
        standardOutPath: '/tmp/out',
      },
    );
    const r = await t.open();
    assert.ok(r.ok);
    r.sockets.arm(() => undefined);
    t.port.fire(11);
    assert.deepEqual(r.sockets.handoff(), {
      passFds: [],
      listenFdNames: [],
      stdio: { stdin: { kind: 'fd', fd: 11 }, stderr: { kind: 'fd', fd: 11 } },
    });
  });

  it('inetd Wait=false: accepts up to the cap, one instance per connection, more after an exit', async () => {
    const t = setup(
      [{ name: 'L', sockets: [tcp('80', { family: 'IPv4' })] }],
      { inetdCompatibility: { wait: false } },
      2,
    );
    const r = await t.open();
    assert.ok(r.ok);
    let readable = 0;
    r.sockets.arm(() => readable++);
    t.port.backlog.set(10, 3);
    t.port.fire(10);
    await tick();
    assert.equal(readable, 0, 'the job machine is not involved');
    assert.equal(t.spawned.length, 2);
    assert.equal(t.port.backlog.get(10), 1, 'the third connection waits in the backlog');
    assert.equal(t.port.watches.has(10), false, 'at the cap: not watching');
    assert.deepEqual(
      t.port.closed,
      [11, 12],
      "the agent's copies of the connections are closed after the spawn",
    );
    assert.deepEqual(r.sockets.status().inetd, { wait: false, instances: 2, maxInstances: 2, accepted: 2 });
    t.spawned[0]?.exit();
    await tick();
    assert.equal(t.spawned.length, 3);
    assert.equal(t.port.watches.has(10), false);
    t.spawned[1]?.exit();
    await tick();
    assert.equal(t.port.watches.has(10), true, 'below the cap again: watching');
    assert.equal(r.sockets.status().sockets[0]?.activations, 3);
  });
});
