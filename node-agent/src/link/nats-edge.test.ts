/**
 * The agent's NATS edges (event publishes, status puts, desired-state reads, the credential
 * renewal) classify what failed once, against the error objects nats.js raises (made as its
 * protocol handler and JetStream client make them), and pace and say it accordingly.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errors as natsErrors } from '@nats-io/nats-core';
import { jserrors } from '@nats-io/jetstream/internal';
import { EdgePacing, credentialName, edgeFailure } from './nats-edge.ts';
import { publishDenied } from '../testing/fake-nats.ts';

// Throws when nats.js does not recognise the server's error.
const permission = publishDenied;

describe('nats edge', () => {
  test('classified once: denied, missing, retry (what retryable says), terminal', () => {
    const kind = (e: unknown) => edgeFailure(e, 'doing it').kind;
    // How a JetStream publish or a KV put fails when the subject is not the node's to publish.
    assert.equal(kind(permission('$KV.lf_nodes.n1.status')), 'denied');
    assert.equal(kind(new Error('publish failed', { cause: permission('lf.events.n1.drift') })), 'denied');
    const auth = natsErrors.AuthorizationError.parse("'Authorization Violation'");
    assert.equal(kind(auth), 'denied');
    assert.equal(edgeFailure(auth, 'x').error.retryable, false);
    // No answer: a timeout (also a full JetStream API queue: the server drops the request), no
    // responders, a stream without a leader (nats.js says "not enabled"), a closed connection.
    for (const e of [
      new natsErrors.TimeoutError(),
      new natsErrors.NoRespondersError('$JS.API.DIRECT.GET.KV_lf_desired'),
      new jserrors.JetStreamNotEnabled('jetstream is not enabled', {
        cause: new natsErrors.RequestError('no responders', {
          cause: new natsErrors.NoRespondersError('$KV.lf_nodes.n1.status'),
        }),
      }),
      new natsErrors.ClosedConnectionError(),
    ]) {
      const f = edgeFailure(e, 'x');
      assert.equal(f.kind, 'retry', e.message);
      assert.equal(f.error.retryable, true, 'the mark is what decides');
    }
    // The stream is not there: the controller provisions it; wait.
    assert.equal(kind(jserrors.StreamNotFoundError.fromMessage('stream not found')), 'missing');
    assert.equal(kind(new TypeError("Cannot read properties of undefined (reading 'x')")), 'terminal');
  });

  test('a denial is said once per subject at error, naming the subject and the credential, and waits long', () => {
    const lines: [string, string][] = [];
    const log = (level: string, _label: string, msg: string) => lines.push([level, msg]);
    const p = new EdgePacing({ deniedWaitMs: 300_000 });
    const said = {
      doing: 'putting the node status',
      subject: '$KV.lf_nodes.n1.status',
      credential: credentialName('n1', '/var/lib/launchfleet/node.creds'),
      log,
    };
    const denied = edgeFailure(permission('$KV.lf_nodes.n1.status'), 'putting the node status');
    assert.equal(p.failed(denied, said), 300_000);
    assert.equal(p.failed(denied, said), 300_000, 'never the quick backoff');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.[0], 'error');
    assert.match(
      lines[0]?.[1] ?? '',
      /^NATS denied putting the node status on \$KV\.lf_nodes\.n1\.status to node n1's credentials \(\/var\/lib\/launchfleet\/node\.creds\) \(.*Permissions Violation.*\): a person must act/,
    );
    assert.match(lines[0]?.[1] ?? '', /jobs keep running/);
    assert.equal(lines[1]?.[0], 'debug', 'said once');
    // Another subject is said on its own.
    p.failed(edgeFailure(permission('$KV.lf_nodes.n1.inventory'), 'x'), {
      ...said,
      subject: '$KV.lf_nodes.n1.inventory',
    });
    assert.equal(lines[2]?.[0], 'error');
    // A success there: a later denial is said again.
    p.ok('$KV.lf_nodes.n1.status');
    p.failed(denied, said);
    assert.equal(lines[3]?.[0], 'error');
  });

  test('no answer backs off (1 s doubling to 30 s), quietly; a missing stream is said once; a success starts over', () => {
    const lines: [string, string][] = [];
    const log = (level: string, _label: string, msg: string) => lines.push([level, msg]);
    const p = new EdgePacing();
    const said = { doing: 'publishing a drift event', subject: 'lf.events.n1.drift', credential: 'c', log };
    const timeout = edgeFailure(new natsErrors.TimeoutError(), 'x');
    const waits = [1, 2, 3, 4, 5, 6, 7].map(() => p.failed(timeout, said));
    assert.deepEqual(waits, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    assert.ok(lines.every(([level]) => level === 'debug'));
    p.ok();
    assert.equal(p.failed(timeout, said), 1000, 'a success starts the backoff over');
    lines.length = 0;
    const missing = edgeFailure(jserrors.StreamNotFoundError.fromMessage('stream not found'), 'x');
    p.failed(missing, said);
    p.failed(missing, said);
    assert.deepEqual(
      lines.map(([l]) => l),
      ['warn', 'debug'],
    );
    assert.match(
      lines[0]?.[1] ?? '',
      /the stream is not there .*waiting for the controller to provision it, retrying with backoff/,
    );
  });
});
