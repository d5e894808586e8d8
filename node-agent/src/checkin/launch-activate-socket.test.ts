// launch_activate_socket(3) semantics over the systemd environment (docs/launchd-semantics.md §4.2, §4.4; row
// 34).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:os';
import { launchActivateSocket, listenFdNames } from './launch-activate-socket.ts';

const env = (over: Record<string, string | undefined>): Record<string, string | undefined> => ({
  LISTEN_PID: '4242',
  LISTEN_FDS: '4',
  LISTEN_FDNAMES: 'Listeners:Listeners:Admin:Listeners',
  ...over,
});

describe('launchActivateSocket', () => {
  it('returns every fd of the group, in order, from fd 3', () => {
    const src = { env: env({}), pid: 4242 };
    assert.deepEqual(launchActivateSocket('Listeners', src), [3, 4, 6]);
    assert.deepEqual(launchActivateSocket('Admin', src), [5]);
  });

  it('EALREADY on a second activation of the same name, per process', () => {
    const src = { env: env({}), pid: 4242 };
    launchActivateSocket('Admin', src);
    assert.throws(() => launchActivateSocket('Admin', src), {
      name: 'LaunchActivateSocketError',
      code: 'EALREADY',
      errno: constants.errno.EALREADY,
    });
  });

  it('ENOENT for a name that is not a group of the job', () => {
    assert.throws(() => launchActivateSocket('Nope', { env: env({}), pid: 4242 }), { code: 'ENOENT' });
  });

  it('ESRCH when not socket-activated, or LISTEN_PID is another process (inherited)', () => {
    assert.throws(() => launchActivateSocket('Listeners', { env: {}, pid: 1 }), { code: 'ESRCH' });
    assert.throws(() => launchActivateSocket('Listeners', { env: env({}), pid: 4243 }), { code: 'ESRCH' });
    assert.throws(() => launchActivateSocket('Listeners', { env: env({ LISTEN_FDS: 'x' }), pid: 4242 }), {
      code: 'ESRCH',
    });
  });

  it('ignores names beyond LISTEN_FDS, and lists the groups', () => {
    const src = { env: env({ LISTEN_FDS: '2' }), pid: 4242 };
    assert.throws(() => launchActivateSocket('Admin', src), { code: 'ENOENT' });
    assert.deepEqual(listenFdNames({ env: env({}), pid: 4242 }), ['Listeners', 'Admin']);
    assert.deepEqual(listenFdNames({ env: env({}), pid: 1 }), []);
  });
});
