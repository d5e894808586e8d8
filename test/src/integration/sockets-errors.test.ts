// Bad Sockets input (docs/launchd-semantics.md §4.1): a socket that cannot be created refuses the job's load
// with a clear error naming the socket, closes what was already opened, and leaves every other job
// running. Also: service names from the services database, and warnings for what Linux lacks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  freePort,
  listening,
  nodeBin,
  nodeServerFixture,
  request,
  startSupervisor,
  type Supervisor,
} from './sockets-harness.ts';
import { skipUnlessLinux } from '../support/platform.ts';

let sup: Supervisor;
let busy: Server;
let busyPort = 0;
let keeperPort = 0;
let keeperPid = '';

before(async () => {
  sup = await startSupervisor();
  busyPort = await freePort();
  busy = createServer();
  await new Promise<void>((r) => busy.listen(busyPort, '127.0.0.1', r));
  // A healthy socket job, started before the bad ones: it must keep running throughout.
  keeperPort = await freePort();
  const serve = nodeServerFixture(join(sup.dir, 'keeper'));
  const failure = await sup.load('t.keeper', {
    ProgramArguments: [nodeBin, serve, 'Listeners', '0'],
    Sockets: { Listeners: { SockServiceName: String(keeperPort), SockNodeName: '127.0.0.1', Bonjour: true } },
  });
  assert.equal(failure, undefined, failure?.message);
  keeperPid = /pid=(\d+)/.exec(await request('127.0.0.1', keeperPort))?.[1] ?? '';
  assert.ok(keeperPid);
});

after(async () => {
  busy.close();
  await sup.stop();
});

/** Loads a bad job and checks the refusal: code 5, the label and socket named, nothing left loaded. */
async function refused(label: string, sockets: Record<string, unknown>, expect: RegExp): Promise<string> {
  const failure = await sup.load(label, {
    ProgramArguments: ['/bin/true'],
    Sockets: sockets as never,
  });
  assert.ok(failure, `${label} must be refused`);
  assert.equal(failure.code, 5);
  assert.match(failure.message, new RegExp(label.replace(/\./g, '\\.')));
  assert.match(failure.message, expect);
  assert.ok(!sup.domain.labels().includes(label), `${label} is not loaded`);
  return failure.message;
}

describe('bad Sockets input refuses the load, names the socket, and harms no other job', () => {
  test('port already in use (EADDRINUSE)', async () => {
    await refused(
      't.inuse',
      { Web: { SockServiceName: String(busyPort), SockNodeName: '127.0.0.1' } },
      /Sockets\.Web \(tcp 127\.0\.0\.1:\d+\): address already in use/,
    );
  });

  test('unknown service name', async () => {
    await refused(
      't.noservice',
      { Web: { SockServiceName: 'no-such-service-lf' } },
      /Sockets\.Web: unknown service name "no-such-service-lf"/,
    );
  });

  test('unwritable socket directory', async () => {
    await refused(
      't.unwritable',
      { Local: { SockPathName: '/sys/lf-test.sock' } },
      /Sockets\.Local \(unix stream \/sys\/lf-test\.sock\): cannot create the socket file: the directory is not writable/,
    );
  });

  test('an address the host does not have', async () => {
    await refused(
      't.noaddr',
      { Web: { SockServiceName: String(await freePort()), SockNodeName: '192.0.2.1' } },
      /Sockets\.Web \(tcp 192\.0\.2\.1:\d+\): the host has no such address/,
    );
  });

  test('a failure in the second socket of a group closes the first', async () => {
    const first = await freePort();
    await refused(
      't.partial',
      {
        Web: [
          { SockServiceName: String(first), SockNodeName: '127.0.0.1' },
          { SockServiceName: String(busyPort), SockNodeName: '127.0.0.1' },
        ],
      },
      /Sockets\.Web\[1\] \(tcp 127\.0\.0\.1:\d+\): address already in use/,
    );
    assert.ok(!listening(first, false), 'the socket opened before the failure was closed');
  });

  test('permission denied: an agent that is not root cannot bind a privileged port', (t) => {
    if (skipUnlessLinux(t, 'setpriv (util-linux)')) return;
    const port = [81, 82, 83, 84].find((p) => !listening(p, false) && !listening(p, true));
    if (process.getuid?.() !== 0 || port === undefined) {
      t.skip('needs root (to run a second supervisor as nobody) and a free port below 1024');
      return;
    }
    // A second supervisor, run as nobody through setpriv, loads a job on a privileged port.
    const harness = fileURLToPath(new URL('./sockets-harness.js', import.meta.url));
    const script = join(sup.dir, 'nonroot.mjs');
    writeFileSync(
      script,
      `import { startSupervisor } from ${JSON.stringify(harness)};
const s = await startSupervisor();
const f = await s.load('t.priv', { ProgramArguments: ['/bin/true'], Sockets: { Web: { SockServiceName: ${port}, SockNodeName: '127.0.0.1' } } });
process.stdout.write(JSON.stringify({ failure: f ?? null, labels: s.domain.labels() }));
await s.stop();
`,
      { mode: 0o644 },
    );
    const out = execFileSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', nodeBin, script],
      {
        encoding: 'utf8',
        timeout: 30_000,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', TMPDIR: '/tmp' },
      },
    );
    const r = JSON.parse(out) as { failure: { code: number; message: string } | null; labels: string[] };
    assert.ok(r.failure, 'refused');
    assert.equal(r.failure.code, 5);
    assert.match(
      r.failure.message,
      new RegExp(
        `t\\.priv: Sockets\\.Web \\(tcp 127\\.0\\.0\\.1:${port}\\): permission denied: binding this port needs privileges`,
      ),
    );
    assert.deepEqual(r.labels, []);
  });

  test('the other job kept running and serving throughout', async () => {
    const again = await request('127.0.0.1', keeperPort);
    assert.equal(/pid=(\d+)/.exec(again)?.[1], keeperPid);
    assert.equal(sup.status('t.keeper').pid, Number(keeperPid));
    assert.ok(
      sup.logs.some((l) => /t\.keeper: Sockets\.Listeners: Bonjour: no mDNSResponder/.test(l)),
      'Bonjour is warned about, and the job loads anyway',
    );
  });

  test('SockServiceName by name; a privileged port bound by the root agent for a job running as nobody', async (t) => {
    const services = readFileSync('/etc/services', 'utf8');
    const candidates = ['gopher', 'finger', 'rtelnet', 'qotd'].filter((n) =>
      new RegExp(`^${n}\\s+\\d+/tcp`, 'm').test(services),
    );
    const name = candidates.find((n) => {
      const port = Number(new RegExp(`^${n}\\s+(\\d+)/tcp`, 'm').exec(services)?.[1]);
      return !listening(port, false) && !listening(port, true);
    });
    if (name === undefined || process.getuid?.() !== 0) {
      t.skip('no free named privileged port, or not root');
      return;
    }
    const port = Number(new RegExp(`^${name}\\s+(\\d+)/tcp`, 'm').exec(services)?.[1]);
    const serve = nodeServerFixture(join(sup.dir, 'named'));
    const failure = await sup.load('t.named', {
      ProgramArguments: [nodeBin, serve, 'Named', '0'],
      UserName: 'nobody',
      Sockets: { Named: { SockServiceName: name, SockNodeName: '127.0.0.1' } },
    });
    assert.equal(failure, undefined, failure?.message);
    assert.equal(sup.status('t.named').sockets?.[0]?.port, port);
    assert.ok(port < 1024);
    assert.match(await request('127.0.0.1', port), /names=Named family=127\.0\.0\.1 uid=65534$/m);
    await sup.domain.bootout('t.named', { wait: true });
  });
});
