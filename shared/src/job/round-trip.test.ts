import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildBinaryPlist } from '../plist/build-plist.ts';
import { parsePlist } from '../plist/parse-plist.ts';
import { issueSummary, normalizeText } from './fixtures/normalize-text.ts';
import { everyKey, jobPlist } from './fixtures/plist-text.ts';
import type { PlistValue } from './job-spec.ts';
import { normalizeJob } from './normalize-job.ts';
import { serializeJob } from './serialize-job.ts';

const parseValue = (bytes: Uint8Array | string): PlistValue => {
  const r = parsePlist(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  if (!r.ok) assert.fail(r.error.message);
  return r.value.value;
};

describe('round trips', () => {
  it('XML -> spec -> XML keeps every key, known and unknown, with exact values', () => {
    const r = normalizeText(everyKey);
    assert.deepEqual(issueSummary(r), [
      'warning unknown-key POSIXSpawnType',
      'warning unknown-key X-Example-Build',
    ]);
    assert.ok(r.spec);
    const again = parseValue(serializeJob(r.spec));
    assert.deepEqual(again, r.spec.raw);
    assert.equal((again as Record<string, PlistValue>)['X-Example-Build'], 9007199254740993n);
    const second = normalizeJob(again);
    assert.deepEqual(second.issues, r.issues);
  });
  it('every key lands in the spec', () => {
    const s = normalizeText(everyKey).spec;
    assert.ok(s);
    assert.equal(s.program, '/usr/local/bin/worker');
    assert.deepEqual(s.programArguments, ['/bin/true']);
    assert.equal(s.enableGlobbing, true);
    assert.equal(s.userName, 'nobody');
    assert.equal(s.groupName, 'nogroup');
    assert.equal(s.initGroups, false);
    assert.equal(s.rootDirectory, '/');
    assert.equal(s.workingDirectory, '/tmp');
    assert.equal(s.umask, 18);
    assert.equal(s.nice, -5);
    assert.equal(s.sessionCreate, true);
    assert.deepEqual(s.softResourceLimits, { NumberOfFiles: 1024, Core: 0 });
    assert.deepEqual(s.hardResourceLimits, { NumberOfFiles: 4096 });
    assert.equal(s.processType, 'Background');
    assert.equal(s.lowPriorityIO, true);
    assert.equal(s.lowPriorityBackgroundIO, true);
    assert.equal(s.environmentVariables.get('LANG'), 'C');
    assert.equal(s.standardInPath, '/dev/null');
    assert.equal(s.standardOutPath, '/tmp/worker.out');
    assert.equal(s.standardErrorPath, '/tmp/worker.err');
    assert.equal(s.runAtLoad, true);
    assert.equal(s.keepAlive.successfulExit, false);
    assert.equal(s.disabled, false);
    assert.equal(s.launchOnlyOnce, false);
    assert.equal(s.startInterval, 3600);
    assert.deepEqual(s.startCalendarInterval, [
      { hour: 9, minute: 0 },
      { weekday: 0, month: 12, day: 31 },
    ]);
    assert.deepEqual(s.watchPaths, ['/etc/hosts']);
    assert.deepEqual(s.queueDirectories, ['/var/spool/worker']);
    assert.equal(s.startOnMount, true);
    assert.equal(s.throttleInterval, 30);
    assert.equal(s.exitTimeOut, 5);
    assert.equal(s.enableTransactions, true);
    assert.equal(s.abandonProcessGroup, true, 'forced by inetdCompatibility');
    assert.equal(s.debug, true);
    assert.deepEqual(s.limitLoadToSessionType, ['Aqua', 'Background']);
    assert.deepEqual([...s.limitLoadToHardware], [['machine', ['x86_64']]]);
    assert.deepEqual([...s.limitLoadFromHardware], [['model', ['VirtualMac2,1']]]);
    assert.deepEqual(
      s.sockets.map((g) => [g.name, g.sockets.length]),
      [
        ['Listeners', 1],
        ['Local', 2],
      ],
    );
    assert.equal(s.sockets[1]?.sockets[0]?.pathMode, 438);
    assert.deepEqual(s.inetdCompatibility, { wait: false });
    assert.deepEqual(s.machServices, ['com.example.worker', 'com.example.worker.xpc']);
    assert.deepEqual(s.launchEventStreams, ['com.apple.notifyd.matching']);
  });
  it('binary -> spec -> XML keeps the dictionary', () => {
    const raw = parseValue(everyKey);
    const fromBinary = parsePlist(buildBinaryPlist(raw));
    assert.ok(fromBinary.ok);
    assert.equal(fromBinary.value.format, 'binary');
    const r = normalizeJob(fromBinary.value.value);
    assert.ok(r.spec);
    assert.deepEqual(parseValue(serializeJob(r.spec)), raw);
  });
  it('keeps original key spelling, dates, data and reals', () => {
    const text = jobPlist(
      '<key>runAtLoad</key><true/><key>X-When</key><date>2020-02-03T04:05:06Z</date><key>X-Blob</key><data>AAEC</data><key>X-Ratio</key><real>0.5</real>',
    );
    const r = normalizeText(text);
    assert.ok(r.spec);
    const xml = serializeJob(r.spec);
    assert.match(xml, /<key>runAtLoad<\/key>/);
    assert.match(xml, /<real>0.5<\/real>/);
    assert.deepEqual(parseValue(xml), r.spec.raw);
  });
  it('serialises a plain dictionary too, and refuses what XML cannot carry', () => {
    assert.deepEqual(parseValue(serializeJob({ Label: 'a', ProgramArguments: ['/bin/x'] })), {
      Label: 'a',
      ProgramArguments: ['/bin/x'],
    });
    assert.throws(() => serializeJob({ Label: 'a\u0001' }), { name: 'InvalidArgument' });
  });
});
