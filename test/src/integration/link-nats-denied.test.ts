/**
 * NATS denies a node some of its subjects (an account whose permissions were narrowed, a JWT
 * issued by hand): the node must say so clearly — which subject, which credential, that a person
 * must act — not retry it hot, and keep running its jobs and following its desired state. Here
 * the node's JWT is re-issued by the same account key without the publish permissions of its
 * status bucket (`$KV.lf_nodes.<node>.>`) and its events (`lf.events.<node>.>`), against a real
 * nats-server.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodePermissions } from '@launchfleet/controller/identity';
import { buckets, keys, kvSubject, subjects } from '@launchfleet/shared/messages';
import { alive, daemonPlist, eventually } from '../support/link-node.ts';
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
