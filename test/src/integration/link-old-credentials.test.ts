/**
 * A node enrolled before the agent followed its desired state and the trust store by core
 * subscriptions holds a JWT without those two subscribe permissions. Such a node must keep
 * working: the broker refuses the subscriptions, and the agent falls back to a consumer watch
 * (desired state) and to re-reads (trust store). Here the node's JWT is re-issued by the same
 * account key with exactly the permissions nodes had before: the current ones minus the two
 * subscribe subjects.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodePermissions } from '@launchfleet/controller/identity';
import { buckets, keys, kvSubject } from '@launchfleet/shared/messages';
import { daemonPlist, eventually, newPid } from '../support/link-node.ts';
import { enrolledNodeSuite, putJob, reissueNodeCreds } from '../support/link-fleet.ts';

describe('fleet link: credentials issued before the subscribe permissions', () => {
  const suite = enrolledNodeSuite();

  test('desired state still arrives by a consumer watch; the trust store falls back to re-reads', async () => {
    const { cp, node, nodeId } = suite;
    const current = nodePermissions(nodeId);
    const newer = [
      kvSubject(buckets.desired, keys.desiredOf(nodeId)),
      kvSubject(buckets.trust, keys.trustStore),
    ];
    for (const s of newer) assert.ok(current.sub.allow.includes(s), `${s} is a current permission`);
    const older = {
      ...current,
      sub: { ...current.sub, allow: current.sub.allow.filter((s) => !newer.includes(s)) },
    };
    await reissueNodeCreds(cp, node, nodeId, older);
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'connected with the older JWT');
    await eventually(
      () => node.logs.some((l) => l.includes('desired state subscription refused (older credentials)')),
      10_000,
      'the desired-state subscription was refused and the agent said so',
    );
    // A job applied now reaches the node through the consumer watch.
    await putJob(cp, nodeId, { label: 'com.acme.old', version: 1, plist: daemonPlist('com.acme.old') });
    const pid1 = await eventually(() => node.job('com.acme.old')?.pid, 15_000, 'v1 runs');
    // And a change to it as well (the watch follows, it did not only catch up).
    const plist2 = daemonPlist('com.acme.old', { EnvironmentVariables: { LF_VERSION: '2' } });
    await putJob(cp, nodeId, { label: 'com.acme.old', version: 2, plist: plist2 });
    await newPid(node, 'com.acme.old', pid1, 15_000, 'v2 runs');
    assert.ok(
      node.logs.some(
        (l) => l.includes('trust store subscription failed') && l.includes('following by re-reads'),
      ),
      node.logs.filter((l) => l.includes('trust')).join('\n'),
    );
  });
});
