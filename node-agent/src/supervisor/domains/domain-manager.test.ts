// Domains and the domain manager with fake ports: launchd's checks and codes (docs/launchd-semantics.md §3,
// §5.3), overrides (§2.6), sessions, and §6 rows 35-39 at the manager level.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import type { ProcessExit, ProcessSpawner, SpawnRequest, SpawnResult } from '../../ports/process-spawner.ts';
import { FakeSpawner } from '../../testing/fake-spawner.ts';
import { FakeFileSystem } from '../../testing/fake-file-system.ts';
import { FakeUserDb } from '../../testing/fake-user-db.ts';
import { fakePlist, fakePlistLoader } from '../../testing/fake-plist-loader.ts';
import { jobSpec } from '../../testing/job-spec-builder.ts';
import { advance, flush } from '../../testing/settle.ts';
import { fixedOffset } from '../core/calendar.ts';
import { machineConfig } from '../core/machine-config.ts';
import { DomainManager, parseDomainTarget } from './domain-manager.ts';
import { formatPrintDisabled, type Domain } from './domain.ts';
import { entryPath, labelIsSafe, safeAbsolutePath, statePathFor } from './path-safety.ts';

const DAEMONS = '/Library/LaunchDaemons';
const AGENTS = '/Library/LaunchAgents';

function setup(
  fs = new FakeFileSystem(),
  clock = new FakeClock(),
  flavor: '842' | 'modern' = '842',
  wrap: (s: FakeSpawner) => ProcessSpawner = (s) => s,
) {
  const spawner = new FakeSpawner(clock, clock);
  const logs: string[] = [];
  const make = () =>
    new DomainManager({
      ports: { spawner: wrap(spawner), fs, users: new FakeUserDb(), clock, scheduler: clock },
      config: machineConfig(flavor),
      stateDir: '/var/lib/launchfleet',
      daemonDirectories: [DAEMONS],
      agentDirectories: [AGENTS],
      loadHomeAgents: true,
      agentUid: 0,
      loader: fakePlistLoader,
      log: (level, label, msg) => logs.push(`${level} ${label}: ${msg}`),
      timeZone: fixedOffset(0),
    });
  return { fs, clock, spawner, logs, make };
}

async function started(t: ReturnType<typeof setup>): Promise<{ m: DomainManager; sys: Domain }> {
  const m = t.make();
  await m.start();
  const d = m.domain('system');
  assert.ok(d.ok);
  return { m, sys: d.value };
}

describe('bootstrap checks and codes', () => {
  it('loads root-owned daemons at start; skips dot-files and non-plist entries', async () => {
    const t = setup();
    t.fs.writeFile(`${DAEMONS}/com.acme.a.plist`, fakePlist('com.acme.a', { runAtLoad: true }));
    t.fs.writeFile(`${DAEMONS}/.hidden.plist`, fakePlist('hidden'));
    t.fs.writeFile(`${DAEMONS}/README.txt`, 'hello');
    const m = t.make();
    const report = await m.start();
    assert.deepEqual(report.loaded, ['com.acme.a']);
    assert.deepEqual(report.failures, []);
    assert.equal(report.skipped.length, 2);
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    await m.stop();
  });

  for (const mode of [0o664, 0o666, 0o646]) {
    it(`row 35: a plist with mode ${mode.toString(8)} is refused with 122`, async () => {
      const t = setup();
      const { sys, m } = await started(t);
      t.fs.writeFile('/tmp/x.plist', fakePlist('x'), { mode });
      const r = await sys.bootstrapPaths(['/tmp/x.plist'], { requesterUid: 0 });
      assert.equal(r.failures[0]?.code, 122);
      assert.equal(r.failures[0].message, 'Dubious permissions on file (skipping)');
      assert.deepEqual(sys.labels(), []);
      // Read bits do not matter: 0600 and 0644 both load.
      t.fs.writeFile('/tmp/y.plist', fakePlist('y'), { mode: 0o600 });
      assert.deepEqual((await sys.bootstrapPaths(['/tmp/y.plist'], { requesterUid: 0 })).loaded, ['y']);
      await m.stop();
    });
  }

  it("row 36: root cannot load a user-owned plist; a user cannot load another user's; both 122", async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.fs.writeFile('/home/alice/Library/LaunchAgents/a.plist', fakePlist('a'), { uid: 501 });
    const asRoot = await sys.bootstrapPaths(['/home/alice/Library/LaunchAgents/a.plist'], {
      requesterUid: 0,
    });
    assert.equal(asRoot.failures[0]?.code, 122);
    assert.equal(asRoot.failures[0].message, 'Dubious ownership on file (skipping)');
    const s = await m.openSession(502, 'gui');
    assert.ok(s.ok);
    const asBob = await s.value.domain.bootstrapPaths(['/home/alice/Library/LaunchAgents/a.plist'], {
      requesterUid: 502,
    });
    assert.equal(asBob.failures[0]?.code, 122);
    await m.stop();
  });

  it('row 37: bootstrapping a loaded label fails with 37 (D6)', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    assert.ok((await sys.bootstrapSpec(jobSpec('dup'))).ok);
    const again = await sys.bootstrapSpec(jobSpec('dup'));
    assert.equal(again.ok, false);
    assert.equal(!again.ok && again.error.code, 37);
    await m.stop();
  });

  it('missing files, relative paths and bad plists give 108/109/110/111', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.fs.writeFile('/tmp/bad.plist', '{not json');
    t.fs.writeFile('/tmp/nolabel.plist', JSON.stringify({ runAtLoad: true }));
    t.fs.writeFile('/tmp/noprog.plist', fakePlist('np', { noProgram: true }));
    t.fs.writeFile('/tmp/job.txt', fakePlist('txt'));
    const r = await sys.bootstrapPaths(
      [
        '/tmp/missing.plist',
        'relative.plist',
        '/tmp/bad.plist',
        '/tmp/nolabel.plist',
        '/tmp/noprog.plist',
        '/tmp/job.txt',
      ],
      { requesterUid: 0 },
    );
    assert.deepEqual(
      r.failures.map((f) => f.code),
      [108, 108, 109, 110, 111, 108],
    );
    await m.stop();
  });

  it('labels and paths cannot escape their directories', () => {
    assert.equal(labelIsSafe('com.acme.job'), true);
    for (const bad of ['', '.', '..', '../../etc/passwd', 'a/b', 'a\nb', 'x'.repeat(256)])
      assert.equal(labelIsSafe(bad), false, bad);
    assert.equal(statePathFor('/var/lib/lf', '../../etc/passwd'), undefined);
    assert.equal(statePathFor('/var/lib/lf', 'com.acme'), '/var/lib/lf/com.acme.json');
    assert.equal(entryPath('/d', '..'), undefined);
    assert.equal(entryPath('/d', 'a/../../b.plist'), undefined);
    assert.equal(entryPath('/d', 'a.plist'), '/d/a.plist');
    assert.equal(safeAbsolutePath('/a/b/../c.plist'), '/a/c.plist');
    assert.equal(safeAbsolutePath('a.plist'), undefined);
    assert.equal(safeAbsolutePath('/a\0b'), undefined);
  });

  it('a label that could name a file outside the state directory is refused with 110', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    const r = await sys.bootstrapSpec(jobSpec('../../etc/x'));
    assert.equal(!r.ok && r.error.code, 110);
    await m.stop();
  });
});

describe('bootout, print, list, kill (rows 17, 18, 39)', () => {
  it('row 39: print of an unknown label is 113; bootout of an unknown target is 3', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    const p = sys.print('nope');
    assert.equal(!p.ok && p.error.code, 113);
    const b = await sys.bootout('nope');
    assert.equal(!b.ok && b.error.code, 3);
    assert.equal(!b.ok && b.error.error, 'No such process');
    await m.stop();
  });

  it('bootout is asynchronous: print still finds the job and a re-bootstrap fails until the exit', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.spawner.script('slow', { ignoreSigterm: true });
    await sys.bootstrapSpec(jobSpec('slow', { keepAlive: true, exitTimeOut: 3 }));
    await flush();
    assert.ok((await sys.bootout('slow')).ok);
    const during = sys.print('slow');
    assert.ok(during.ok, 'still registered');
    assert.equal(during.value.state, 'SIGTERMed');
    const again = await sys.bootstrapSpec(jobSpec('slow'));
    assert.equal(!again.ok && again.error.code, 37);
    await advance(t.clock, 3100);
    assert.equal(sys.print('slow').ok, false);
    assert.ok((await sys.bootstrapSpec(jobSpec('slow'))).ok);
    await m.stop();
  });

  it('bootout by path of a plist that is not loaded is 5', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.fs.writeFile('/tmp/n.plist', fakePlist('n'));
    const r = await sys.bootoutPath('/tmp/n.plist');
    assert.equal(!r.ok && r.error.code, 5);
    await m.stop();
  });

  it('list rows follow launchd: pid or -, status or -signal, 0 before any exit; 842: - beside a pid', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.spawner.script('a', {});
    t.spawner.script('b', { runForMs: 10, exitCode: 4 });
    await sys.bootstrapSpec(jobSpec('a', { runAtLoad: true }));
    await sys.bootstrapSpec(jobSpec('b', { runAtLoad: true }));
    await sys.bootstrapSpec(jobSpec('c'));
    await advance(t.clock, 100);
    assert.deepEqual(sys.list(), [
      { pid: '1000', status: '-', label: 'a' },
      { pid: '-', status: '4', label: 'b' },
      { pid: '-', status: '0', label: 'c' },
    ]);
    assert.ok(sys.kill('a', 'TERM').ok);
    await flush();
    assert.deepEqual(sys.list()[0], { pid: '-', status: '-15', label: 'a' });
    assert.equal((sys.kill('a', 'SIGTERM') as { ok: false; error: { code: number } }).error.code, 3);
    assert.equal((sys.kill('a', 'SIGNOPE') as { ok: false; error: { code: number } }).error.code, 22);
    assert.equal((sys.kill('zz', 9) as { ok: false; error: { code: number } }).error.code, 113);
    await m.stop();
  });

  it('modern flavour: a running job shows its last exit status beside the pid (0 before any exit)', async () => {
    const t = setup(new FakeFileSystem(), new FakeClock(), 'modern');
    const { sys, m } = await started(t);
    t.spawner.script('a', {});
    t.spawner.script('k', { runForMs: 10, exitCode: 4 }, {});
    await sys.bootstrapSpec(jobSpec('a', { runAtLoad: true }));
    await sys.bootstrapSpec(jobSpec('k', { keepAlive: true, throttleInterval: 1 }));
    await sys.bootstrapSpec(jobSpec('c'));
    await advance(t.clock, 1500);
    assert.deepEqual(sys.list(), [
      { pid: '1000', status: '0', label: 'a' },
      { pid: '-', status: '0', label: 'c' },
      { pid: '1002', status: '4', label: 'k' },
    ]);
    await m.stop();
  });

  it('kickstart -p reports the new pid; kickstart of an unknown label is 113', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    await sys.bootstrapSpec(jobSpec('k'));
    const r = await sys.kickstart('k', { waitForPid: true });
    assert.deepEqual(r, { ok: true, value: { pid: 1000 } });
    const r2 = await sys.kickstart('k', { waitForPid: true });
    assert.deepEqual(r2, { ok: true, value: { pid: 1000 } }, 'already running: its pid');
    const u = await sys.kickstart('unknown');
    assert.equal(!u.ok && u.error.code, 113);
    await m.stop();
  });
});

describe('enable/disable overrides (row 38, §2.6)', () => {
  it('row 38: disable then bootstrap fails with 119; enable then bootstrap succeeds', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.fs.writeFile('/tmp/x.plist', fakePlist('x', { runAtLoad: true }));
    assert.ok((await sys.disable('x')).ok);
    const r = await sys.bootstrapPaths(['/tmp/x.plist'], { requesterUid: 0 });
    assert.equal(r.failures[0]?.code, 119);
    assert.ok((await sys.enable('x')).ok);
    const r2 = await sys.bootstrapPaths(['/tmp/x.plist'], { requesterUid: 0 });
    assert.deepEqual(r2.loaded, ['x']);
    assert.deepEqual(sys.printDisabled(), [['x', false]], 'enable writes an explicit entry');
    await m.stop();
  });

  it('the disabled state survives an agent restart and the deletion of the plist', async () => {
    const t = setup();
    t.fs.writeFile(`${DAEMONS}/x.plist`, fakePlist('x', { runAtLoad: true }));
    const first = await started(t);
    assert.ok((await first.sys.disable('x')).ok);
    await first.m.stop();
    t.fs.remove(`${DAEMONS}/x.plist`);
    const afterDelete = await started(t);
    assert.deepEqual(afterDelete.sys.printDisabled(), [['x', true]]);
    await afterDelete.m.stop();
    // The plist comes back: still disabled at the next start.
    t.fs.writeFile(`${DAEMONS}/x.plist`, fakePlist('x', { runAtLoad: true }));
    const again = t.make();
    const report = await again.start();
    assert.deepEqual(report.loaded, []);
    assert.equal(report.failures[0]?.code, 119);
    assert.ok(t.fs.atomicWrites.every((w) => w.path === '/var/lib/launchfleet/overrides/system.json'));
    await again.stop();
  });

  it('the override beats the plist Disabled key', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    const r = await sys.bootstrapSpec(jobSpec('d', { disabled: true }));
    assert.equal(!r.ok && r.error.code, 119);
    await sys.enable('d');
    assert.ok((await sys.bootstrapSpec(jobSpec('d', { disabled: true }))).ok);
    await m.stop();
  });

  it('disabling a loaded job leaves its process running but stops KeepAlive; kill cannot resolve it (E13)', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.spawner.script('ka', { runForMs: 5000 });
    await sys.bootstrapSpec(jobSpec('ka', { keepAlive: true }));
    await flush();
    await sys.disable('ka');
    assert.equal(t.spawner.signals.length, 0);
    assert.equal(t.spawner.aliveCount('ka'), 1);
    const k = sys.kill('ka', 'SIGTERM');
    assert.equal(!k.ok && k.error.code, 113);
    await advance(t.clock, 60_000, 100);
    assert.equal(t.spawner.spawns.length, 1, 'no respawn while disabled');
    const ks = await sys.kickstart('ka');
    assert.equal(!ks.ok && ks.error.code, 119);
    await sys.enable('ka');
    await flush();
    assert.equal(t.spawner.spawns.length, 2);
    await m.stop();
  });

  it('a corrupt override file is reported and treated as empty; a failed write is 5', async () => {
    const t = setup();
    t.fs.writeFile('/var/lib/launchfleet/overrides/system.json', '{"version": 1, "disabled": ');
    const { sys, m } = await started(t);
    assert.ok(t.logs.some((l) => l.includes('not valid JSON')));
    t.fs.failWrites = true;
    const r = await sys.disable('x');
    assert.equal(!r.ok && r.error.code, 5);
    await m.stop();
  });
});

describe('per-user domains and sessions', () => {
  it('gui/<uid> loads the agent directories and the home LaunchAgents; jobs run as the user', async () => {
    const t = setup();
    t.fs.writeFile(`${AGENTS}/com.acme.agent.plist`, fakePlist('com.acme.agent', { runAtLoad: true }));
    t.fs.writeFile('/home/alice/Library/LaunchAgents/me.plist', fakePlist('me', { runAtLoad: true }), {
      uid: 501,
    });
    t.fs.writeFile(
      `${AGENTS}/bg.plist`,
      fakePlist('bg', { runAtLoad: true, limitLoadToSessionType: ['Background'] }),
    );
    const { m } = await started(t);
    const s = await m.openSession(501, 'gui');
    assert.ok(s.ok);
    assert.deepEqual([...s.value.report.loaded].sort(), ['com.acme.agent', 'me']);
    assert.ok(
      s.value.report.skipped.some((x) => x.path.endsWith('bg.plist')),
      'other-session agents are skipped silently',
    );
    await flush();
    assert.ok(t.spawner.spawns.every((x) => x.req.credentials?.uid === 501));
    assert.equal(t.spawner.spawns.length, 2);
    await m.stop();
  });

  it('user/<uid> loads Background agents only, never the home directory', async () => {
    const t = setup();
    t.fs.writeFile(`${AGENTS}/aqua.plist`, fakePlist('aqua'));
    t.fs.writeFile(`${AGENTS}/bg.plist`, fakePlist('bg', { limitLoadToSessionType: ['Background', 'Aqua'] }));
    t.fs.writeFile(
      '/home/alice/Library/LaunchAgents/me.plist',
      fakePlist('me', { limitLoadToSessionType: ['Background'] }),
      {
        uid: 501,
      },
    );
    const { m } = await started(t);
    const s = await m.openSession(501, 'user');
    assert.ok(s.ok);
    assert.deepEqual(s.value.report.loaded, ['bg']);
    // An explicit bootstrap of an Aqua agent into user/<uid> fails with 134.
    const r = await s.value.domain.bootstrapSpec(jobSpec('aqua2'));
    assert.equal(!r.ok && r.error.code, 134);
    await m.stop();
  });

  it('closing a session boots out its jobs with SIGTERM and forgets the domain (124 meanwhile, 112 after)', async () => {
    const t = setup();
    t.fs.writeFile(`${AGENTS}/a.plist`, fakePlist('a', { keepAlive: true }));
    const { m } = await started(t);
    const s = await m.openSession(501, 'gui');
    assert.ok(s.ok);
    await flush();
    const closing = m.closeSession(501, 'gui');
    const during = await s.value.domain.bootstrapSpec(jobSpec('late'));
    assert.equal(!during.ok && during.error.code, 124);
    await advance(t.clock, 100);
    assert.ok((await closing).ok);
    assert.deepEqual(
      t.spawner.signals.map((x) => x.signal),
      ['SIGTERM'],
    );
    assert.equal(t.spawner.spawns.length, 1, 'KeepAlive does not respawn during teardown');
    const d = m.domain('gui/501');
    assert.equal(!d.ok && d.error.code, 112);
    await m.stop();
  });

  it('tells domain listeners when a session domain appears (its agents loaded) and when it is gone', async () => {
    const t = setup();
    t.fs.writeFile(`${AGENTS}/a.plist`, fakePlist('a', { keepAlive: true }));
    const { m } = await started(t);
    const told: { targets: readonly string[]; loaded: boolean }[] = [];
    const unsubscribe = m.onDomainsChanged((targets) => {
      const d = m.domain('gui/501');
      told.push({ targets, loaded: d.ok && d.value.print('a').ok });
    });
    assert.ok((await m.openSession(501, 'gui')).ok);
    assert.deepEqual(told, [{ targets: ['system', 'gui/501'], loaded: true }]);
    assert.ok((await m.openSession(501, 'gui')).ok, 'an open session again');
    assert.equal(told.length, 1, 'no change, no call');
    assert.equal((await m.openSession(4242, 'gui')).ok, false);
    assert.equal(told.length, 1, 'no domain for an unknown uid, no call');
    const closing = m.closeSession(501, 'gui');
    await advance(t.clock, 100);
    assert.ok((await closing).ok);
    assert.deepEqual(told.at(-1), { targets: ['system'], loaded: false });
    unsubscribe();
    assert.ok((await m.openSession(501, 'user')).ok);
    assert.equal(told.length, 2, 'unsubscribed');
    await m.stop();
  });

  it('an unknown uid has no domain (112); targets parse strictly', async () => {
    const t = setup();
    const { m } = await started(t);
    const s = await m.openSession(4242, 'gui');
    assert.equal(!s.ok && s.error.code, 112);
    assert.deepEqual(parseDomainTarget('gui/501'), { kind: 'gui', uid: 501 });
    assert.equal(parseDomainTarget('gui/-1'), undefined);
    assert.equal(parseDomainTarget('pid/5'), undefined);
    assert.equal(parseDomainTarget('gui/501/label'), undefined);
    await m.stop();
  });

  it('symlinked plists are ignored when a domain is created but load by explicit bootstrap', async () => {
    const t = setup();
    t.fs.writeFile('/opt/x.plist', fakePlist('linked'));
    t.fs.symlink(`${DAEMONS}/linked.plist`, '/opt/x.plist');
    const { sys, m } = await started(t);
    assert.deepEqual(sys.labels(), []);
    const r = await sys.bootstrapPaths([`${DAEMONS}/linked.plist`], { requesterUid: 0 });
    assert.deepEqual(r.loaded, ['linked']);
    await m.stop();
  });
});

describe('cross-job conditions and the shared clock', () => {
  it('OtherJobEnabled: the curious job starts when the other is loaded and is re-evaluated at removal', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.spawner.script('watcher', { runForMs: 1000 });
    await sys.bootstrapSpec(jobSpec('watcher', { keepAlive: { otherJobEnabled: { other: true } } }));
    await flush();
    assert.equal(t.spawner.spawns.length, 0);
    await sys.bootstrapSpec(jobSpec('other'));
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    await sys.bootout('other');
    await advance(t.clock, 30_000, 100);
    assert.equal(t.spawner.spawns.length, 1, 'not kept alive once the other job is gone');
    await m.stop();
  });

  it('a wall-clock jump re-evaluates calendars once across domains (row 27 through the manager)', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    t.spawner.script('cal', { runForMs: 1000 });
    await sys.bootstrapSpec(jobSpec('cal', { startCalendarInterval: [{ minute: 30 }] }));
    t.clock.jumpWall(5 * 3_600_000);
    assert.ok(Math.abs(m.checkClock() - 5 * 3_600_000) < 1000);
    await flush();
    assert.equal(t.spawner.spawns.length, 1);
    await m.stop();
  });
});

/** Runs each spawn a turn of the event loop after it is asked for, as the direct spawner's burst limit does. */
class NextTurnSpawner implements ProcessSpawner {
  waiting = 0;
  maxWaiting = 0;
  private readonly inner: FakeSpawner;
  constructor(inner: FakeSpawner) {
    this.inner = inner;
  }
  spawn(req: SpawnRequest, onExit: (exit: ProcessExit) => void): Promise<SpawnResult> {
    this.maxWaiting = Math.max(this.maxWaiting, ++this.waiting);
    return new Promise((resolve) =>
      setImmediate(() => {
        this.waiting--;
        resolve(this.inner.spawn(req, onExit));
      }),
    );
  }
  signal(pid: number, signal: NodeJS.Signals): boolean {
    return this.inner.signal(pid, signal);
  }
  signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
    return this.inner.signalGroup(pgid, signal);
  }
}

describe('a bulk load and the starts it asks for', () => {
  it('loads a directory a few jobs per turn, so its RunAtLoad starts do not pile up waiting (issue 19)', async () => {
    let deferring: NextTurnSpawner | undefined;
    const t = setup(undefined, undefined, undefined, (s) => (deferring = new NextTurnSpawner(s)));
    const labels = Array.from({ length: 100 }, (_, i) => `com.acme.j${String(i).padStart(3, '0')}`);
    for (const l of labels) t.fs.writeFile(`${DAEMONS}/${l}.plist`, fakePlist(l, { runAtLoad: true }));
    const m = t.make();
    const report = await m.start();
    await flush();
    assert.deepEqual(report.loaded, labels);
    // Every job started, in the order loaded; at most one turn's loads were ever waiting to fork.
    assert.deepEqual(
      t.spawner.spawns.map((s) => s.req.label),
      labels,
    );
    assert.ok(deferring && deferring.maxWaiting <= 8, `${deferring?.maxWaiting} starts waited at once`);
    await m.stop();
  });
});

describe('label rules at load (row 40)', () => {
  it('empty, control characters and the reserved com.apple.launchd prefix are refused with 110', async () => {
    const t = setup();
    const { sys, m } = await started(t);
    for (const label of ['', 'a\nb', 'com.apple.launchd.foo', 'COM.APPLE.LAUNCHCTL.x']) {
      const r = await sys.bootstrapSpec(jobSpec(label));
      assert.equal(!r.ok && r.error.code, 110, JSON.stringify(label));
    }
    await m.stop();
  });
});

describe('print-disabled', () => {
  it('formats E16 lines', () => {
    assert.equal(
      formatPrintDisabled([
        ['a', true],
        ['b', false],
      ]),
      'disabled services = {\n\t"a" => disabled\n\t"b" => enabled\n}',
    );
  });
});
