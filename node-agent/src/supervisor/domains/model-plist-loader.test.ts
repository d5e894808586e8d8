// The real plist model behind the PlistLoader seam, through a domain bootstrap.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '@launchfleet/shared/testing';
import { FakeFileSystem, FakeSpawner, FakeUserDb } from '../../testing/index.ts';
import { machineConfig } from '../core/machine-config.ts';
import { DomainManager } from './domain-manager.ts';
import { modelPlistLoader } from './model-plist-loader.ts';

const xml = (body: string): Uint8Array =>
  new TextEncoder().encode(
    `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>${body}</dict></plist>`,
  );

describe('modelPlistLoader', () => {
  const load = modelPlistLoader();
  it('turns an XML plist into a JobSpec', () => {
    const r = load(
      xml(
        '<key>Label</key><string>com.acme.x</string><key>ProgramArguments</key><array><string>/bin/sleep</string><string>5</string></array><key>KeepAlive</key><true/>',
      ),
      { path: '/Library/LaunchDaemons/com.acme.x.plist', domain: 'system' },
    );
    assert.equal(r.spec?.label, 'com.acme.x');
    assert.deepEqual(r.spec.programArguments, ['/bin/sleep', '5']);
    assert.equal(r.spec.keepAlive.always, true);
  });

  it('reports a parse error and a missing Program as error issues, without a spec', () => {
    const bad = load(new TextEncoder().encode('<plist><dict><key>Label</key>'), {
      path: '/x.plist',
      domain: 'system',
    });
    assert.equal(bad.spec, undefined);
    assert.equal(bad.issues[0]?.severity, 'error');
    const noProg = load(xml('<key>Label</key><string>np</string>'), { path: '/np.plist', domain: 'system' });
    assert.equal(noProg.spec, undefined);
    assert.ok(noProg.issues.some((i) => i.severity === 'error' && /Program/.test(i.keyPath + i.message)));
  });

  it('refuses JSON unless allowed', () => {
    const json = new TextEncoder().encode(JSON.stringify({ Label: 'j', Program: '/bin/true' }));
    assert.equal(load(json, { path: '/j.plist', domain: 'system' }).spec, undefined);
    assert.equal(
      modelPlistLoader({ allowJson: true })(json, { path: '/j.plist', domain: 'system' }).spec?.label,
      'j',
    );
  });
});

describe('modelPlistLoader behind a domain', () => {
  it('maps the model issues to launchd codes: 110 label, 111 program, 109 not a plist', async () => {
    const clock = new FakeClock();
    const fs = new FakeFileSystem();
    const m = new DomainManager({
      ports: { spawner: new FakeSpawner(clock, clock), fs, users: new FakeUserDb(), clock, scheduler: clock },
      config: machineConfig(),
      stateDir: '/state',
      daemonDirectories: [],
      agentDirectories: [],
      loadHomeAgents: false,
      agentUid: 0,
      loader: modelPlistLoader(),
      log: () => undefined,
    });
    await m.start();
    const sys = m.domain('system');
    assert.ok(sys.ok);
    fs.writeFile(
      '/d/ok.plist',
      xml('<key>Label</key><string>ok</string><key>Program</key><string>/bin/true</string>'),
    );
    fs.writeFile('/d/nolabel.plist', xml('<key>Program</key><string>/bin/true</string>'));
    fs.writeFile('/d/noprog.plist', xml('<key>Label</key><string>np</string>'));
    fs.writeFile('/d/garbage.plist', 'not a plist at all <<<');
    const r = await sys.value.bootstrapPaths(['/d'], { requesterUid: 0 });
    assert.deepEqual(r.loaded, ['ok']);
    assert.deepEqual(Object.fromEntries(r.failures.map((f) => [f.path, f.code])), {
      '/d/garbage.plist': 109,
      '/d/nolabel.plist': 110,
      '/d/noprog.plist': 111,
    });
    await m.stop();
  });
});
