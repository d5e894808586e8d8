/**
 * NATS denies a node some of its subjects (an account whose permissions were narrowed, a JWT
 * issued by hand): the node must say so clearly — which subject, which credential, that a person
 * must act — not retry it hot, and keep running its jobs and following its desired state. Here
 * the node's JWT is re-issued by the same account key without the publish permissions of its
 * status bucket (`$KV.lf_nodes.<node>.>`) and its events (`lf.events.<node>.>`), against a real
 * nats-server. A second suite denies the direct get of one desired-state key mid-session: the
 * session and the jobs stay, the read is said once and tried again on the follower's pacing, and
 * once the node renews its credentials (the controller issues the full permissions) the job
 * arrives without any job restarting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kvGetSubject, nodePermissions } from '@launchfleet/controller/identity';
import { buckets, keys, kvSubject, subjects } from '@launchfleet/shared/messages';
import { alive, daemonPlist, eventually, testLinkSettings } from '../support/link-node.ts';
import { enrolledNodeSuite, putJob, reissueNodeCreds } from '../support/link-fleet.ts';

describe('fleet link: subjects NATS denies the node', () => {
  const suite = enrolledNodeSuite();

  test('said once at error with the subject and the credential, not retried hot; jobs keep running and new ones arrive', async () => {
    const { cp, node, nodeId } = suite;
    await putJob(cp, nodeId, { label: 'com.acme.before', version: 1, plist: daemonPlist('com.acme.before') });
    await eventually(() => node.job('com.acme.before')?.pid, 15_000, 'a job runs before');

    const current = nodePermissions(nodeId);
    const statusSubjects = kvSubject(buckets.nodes, keys.nodeAll(nodeId));
    const eventSubjects = subjects.eventsOf(nodeId);
    for (const s of [statusSubjects, eventSubjects]) assert.ok(current.pub.allow.includes(s), s);
    const narrowed = {
      ...current,
      pub: {
        ...current.pub,
        allow: current.pub.allow.filter((s) => s !== statusSubjects && s !== eventSubjects),
      },
    };
    const credsPath = await reissueNodeCreds(cp, node, nodeId, narrowed);
    node.logs.length = 0;
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'connected with the narrowed JWT');
    const pid = await eventually(
      () => node.job('com.acme.before')?.pid,
      15_000,
      'restored from the agent state',
    );

    const statusDenied = `error link: NATS denied putting the node status on $KV.lf_nodes.${nodeId}.status to node ${nodeId}'s credentials (${credsPath})`;
    await eventually(
      () => node.logs.some((l) => l.startsWith(statusDenied) && l.includes('a person must act')),
      15_000,
      `the status put denied, said clearly:\n${node.logs.filter((l) => l.includes('denied')).join('\n')}`,
    );

    // Jobs change (every change asks for a status put and sends events): nothing is retried hot,
    // nothing is said twice, the session holds, and desired state still arrives.
    const t0 = Date.now();
    await putJob(cp, nodeId, { label: 'com.acme.after', version: 1, plist: daemonPlist('com.acme.after') });
    await eventually(() => node.job('com.acme.after')?.pid, 15_000, 'a job applied while denied runs');
    await eventually(
      () =>
        node.logs.some(
          (l) =>
            l.startsWith(`error link: NATS denied publishing a `) &&
            l.includes(` event on lf.events.${nodeId}.`) &&
            l.includes(`to node ${nodeId}'s credentials (${credsPath})`),
        ),
      15_000,
      'an event denied, said clearly',
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 8000 - (Date.now() - t0))));
    const statusLines = node.logs.filter((l) => l.includes(`NATS denied putting the node status on`));
    assert.equal(statusLines.length, 1, `said once, not retried:\n${statusLines.join('\n')}`);
    assert.ok(
      !node.logs.some((l) => l.startsWith('debug link: putting the node status failed')),
      'no quick retries of the status put',
    );
    assert.equal(node.job('com.acme.before')?.pid, pid, 'the job runs on, undisturbed');
    assert.ok(alive(pid));
    assert.ok(node.link.status().connected, 'the session holds');
    assert.equal(node.link.status().connects, 1, 'no reconnects');
  });
});

describe('fleet link: a desired-state read NATS denies the node mid-session', () => {
  // The follower's re-read every 3 s: a denied read is tried again at the sooner of its wait
  // (5 min) and this period (desired-follower.ts).
  const suite = enrolledNodeSuite({ settings: { ...testLinkSettings, desiredRecheckMs: 3000 } });

  test('said once, the session and the jobs stay, read again on its pacing; caught up once the permission returns', async () => {
    const { cp, node, nodeId } = suite;
    await putJob(cp, nodeId, { label: 'com.acme.before', version: 1, plist: daemonPlist('com.acme.before') });
    await eventually(() => node.job('com.acme.before')?.pid, 15_000, 'a job runs before');

    // The node may read its index and every key but com.acme.after's (a publish deny on that
    // one key's direct get), so its session starts as usual.
    const afterGet = kvGetSubject(buckets.desired, keys.desired(nodeId, 'com.acme.after'));
    const current = nodePermissions(nodeId);
    assert.ok(
      current.pub.allow.includes(kvGetSubject(buckets.desired, keys.desiredOf(nodeId))),
      'the node may read its desired keys',
    );
    const narrowed = { ...current, pub: { ...current.pub, deny: [...current.pub.deny, afterGet] } };
    const credsPath = await reissueNodeCreds(cp, node, nodeId, narrowed);
    node.logs.length = 0;
    await node.restart();
    await eventually(() => node.link.status().connected, 15_000, 'connected with the narrowed JWT');
    const connects = node.link.status().connects;
    const pid = await eventually(
      () => node.job('com.acme.before')?.pid,
      15_000,
      'restored from the agent state',
    );

    // The controller lists com.acme.after in the index and stores it: the node's reads of it
    // (the index message's read, the key's read-back) are denied.
    const t0 = Date.now();
    await putJob(cp, nodeId, { label: 'com.acme.after', version: 1, plist: daemonPlist('com.acme.after') });
    const denied = `error link: NATS denied reading this node's desired state on the direct gets of ${kvSubject(buckets.desired, keys.desiredOf(nodeId))} to node ${nodeId}'s credentials (${credsPath})`;
    await eventually(
      () => node.logs.some((l) => l.startsWith(denied) && l.includes('a person must act')),
      15_000,
      `the desired-state read denied, said clearly:\n${node.logs.filter((l) => l.includes('denied')).join('\n')}`,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - t0))));
    const deniedLines = node.logs.filter((l) => l.includes("NATS denied reading this node's desired state"));
    assert.equal(
      deniedLines.filter((l) => l.startsWith('error ')).length,
      1,
      `said once:\n${deniedLines.join('\n')}`,
    );
    // Read again on the follower's pacing (every 3 s here): more than the two first reads, and
    // no hot loop (10 s at 3 s, and the periodic re-read besides, is a handful).
    const again = deniedLines.filter((l) => l.startsWith('debug ')).length;
    assert.ok(
      again >= 2 && again <= 12,
      `read again on its pacing (${again} denied reads after the first):\n${deniedLines.join('\n')}`,
    );
    assert.equal(node.job('com.acme.after'), undefined, 'the denied job is not applied');
    assert.ok(node.link.status().connected, 'the session holds');
    assert.equal(node.link.status().connects, connects, 'no reconnects');
    assert.equal(node.job('com.acme.before')?.pid, pid, 'the job runs on, undisturbed');
    assert.ok(alive(pid));

    // The permission returns: the controller issues the node's full permissions when it renews
    // (asked to, as after a key rotation); the new session catches up.
    cp.nc.publish(subjects.query(nodeId, 'renew'), new TextEncoder().encode(JSON.stringify({ withinMs: 0 })));
    await eventually(() => node.job('com.acme.after')?.pid, 20_000, 'the job denied before runs');
    assert.ok(node.link.status().connects > connects, 'through a new session with the renewed credentials');
    assert.equal(node.job('com.acme.before')?.pid, pid, 'no job restarted');
    assert.ok(alive(pid));
  });
});
