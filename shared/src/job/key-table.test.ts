import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { launchdKeys, lookupKey, suggestKey } from './key-table.ts';

/** The top-level keys docs/launchd-semantics.md §1 documents (tables of §1.1-§1.3, §1.6-§1.8). */
const specKeys = [
  'Label', 'Disabled', 'Program', 'ProgramArguments', 'BundleProgram', 'EnableGlobbing', 'AssociatedBundleIdentifiers',
  'UserName', 'GroupName', 'InitGroups', 'RootDirectory', 'WorkingDirectory', 'Umask', 'Nice', 'SessionCreate',
  'SoftResourceLimits', 'HardResourceLimits', 'ProcessType', 'LowPriorityIO', 'LowPriorityBackgroundIO',
  'MaterializeDatalessFiles', 'EnvironmentVariables', 'RunAtLoad', 'KeepAlive', 'OnDemand', 'StartInterval',
  'StartCalendarInterval', 'WatchPaths', 'QueueDirectories', 'StartOnMount', 'LaunchOnlyOnce', 'ThrottleInterval',
  'ExitTimeOut', 'TimeOut', 'EnableTransactions', 'EnablePressuredExit', 'AbandonProcessGroup', 'LegacyTimers', 'Debug',
  'WaitForDebugger', 'HopefullyExitsFirst', 'HopefullyExitsLast', 'ServiceIPC', 'StandardInPath', 'StandardOutPath',
  'StandardErrorPath', 'LimitLoadToHosts', 'LimitLoadFromHosts', 'LimitLoadToSessionType', 'LimitLoadToHardware',
  'LimitLoadFromHardware', 'Sockets', 'inetdCompatibility', 'MachServices', 'LaunchEvents',
]; // prettier-ignore

describe('key table', () => {
  it('has exactly one entry per documented key', () => {
    assert.deepEqual([...launchdKeys.map((k) => k.name)].sort(), [...specKeys].sort());
  });
  it('matches case-insensitively, like strcasecmp', () => {
    assert.equal(lookupKey('keepalive')?.name, 'KeepAlive');
    assert.equal(lookupKey('INETDCOMPATIBILITY')?.name, 'inetdCompatibility');
    assert.equal(lookupKey('KeepAlives'), undefined);
  });
  it('marks deprecated keys, their mapping, and what launchd does with bad values', () => {
    const deprecated = launchdKeys.filter((k) => k.deprecated !== undefined).map((k) => k.name);
    assert.deepEqual(deprecated.sort(), [
      'HopefullyExitsFirst',
      'HopefullyExitsLast',
      'LimitLoadFromHosts',
      'LimitLoadToHosts',
      'OnDemand',
      'ServiceIPC',
      'TimeOut',
    ]);
    assert.equal(lookupKey('OnDemand')?.mapsTo, 'KeepAlive');
    assert.equal(lookupKey('Label')?.onBadValue, 'refuse');
    assert.equal(lookupKey('ProgramArguments')?.onBadValue, 'refuse');
    assert.equal(lookupKey('Nice')?.onBadValue, 'ignore-value');
    assert.equal(lookupKey('ServiceIPC')?.onBadValue, 'ignore-key');
  });
  it('suggests the documented key for a near miss', () => {
    assert.equal(suggestKey('EnvironmentalVariables'), 'EnvironmentVariables');
    assert.equal(suggestKey('StartCalenderInterval'), 'StartCalendarInterval');
    assert.equal(suggestKey('JetsamProperties'), undefined);
  });
});
