/**
 * The per-node desired-state index (controller/src/desired/desired-index.ts) against a real
 * nats-server: it lists every live key of a node, including when two controllers create and
 * delete the same key at the same time, and a repair lists what a hand-made write left out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { DesiredIndex } from '@launchfleet/controller/desired';
import { buckets, encodeLabelToken, keys } from '@launchfleet/shared/messages';
import { type ControlPlaneHarness, startControlPlane } from '../support/control-plane.ts';

const node = 'naaaaaaaaaaaaaaaaaaaa';
const other = 'nbbbbbbbbbbbbbbbbbbbb';

describe('controller: the desired-state index', () => {
  let cp: ControlPlaneHarness;
  let second: NatsConnection;
  let a: DesiredIndex;
  let b: DesiredIndex;

  before(async () => {
    cp = await startControlPlane();
    // A second controller: its own connection and its own index writer over the same bucket.
    second = await connect({
      servers: cp.urls,
      authenticator: credsAuthenticator(await cp.identity.controllerCreds()),
      name: 'controller-2',
    });
    a = cp.store.desiredIndex;
    b = new DesiredIndex(await new Kvm(second).open(buckets.desired), () => Date.now());
  });

  after(async () => {
    await second?.close();
    await cp?.close();
  });

  const live = async (nodeId: string, label: string): Promise<boolean> => {
    const e = await cp.store.desired.get(keys.desired(nodeId, label));
    return e !== null && e.operation === 'PUT';
  };

  test('a created key is listed; a deleted one is dropped; an update changes nothing in the index', async () => {
    await a.ensureExists(node);
    assert.deepEqual(await a.read(node), []);
    await a.writeKey(node, 'com.acme.one', 'v1', null);
    assert.deepEqual(await a.read(node), [encodeLabelToken('com.acme.one')]);
    const idxRev = (await cp.store.desired.get(keys.desiredIndex(node)))?.revision;
    const e1 = await cp.store.desired.get(keys.desired(node, 'com.acme.one'));
    assert.ok(e1);
    await a.writeKey(node, 'com.acme.one', 'v2', e1);
    assert.equal((await cp.store.desired.get(keys.desiredIndex(node)))?.revision, idxRev, 'no index write');
    const e2 = await cp.store.desired.get(keys.desired(node, 'com.acme.one'));
    assert.ok(e2);
    await a.deleteKey(node, 'com.acme.one', e2);
    assert.deepEqual(await a.read(node), []);
  });

  test('a drop racing a create of the same key by another controller: the live key stays listed', async () => {
    // The worst interleaving, made deterministic: the dropping controller has read the index and
    // seen the key deleted; before its compare-and-set, the other controller creates the key (its
    // `list` is a no-op: the label is still listed). Without the create's `touch`, the drop's
    // compare-and-set would succeed and leave a live key unlisted, so an agent catching up by its
    // index would never read it.
    const label = 'com.acme.race';
    const token = encodeLabelToken(label);
    await a.writeKey(node, label, 'v0', null);
    const e0 = await cp.store.desired.get(keys.desired(node, label));
    assert.ok(e0);
    await cp.store.desired.delete(keys.desired(node, label), { previousSeq: e0.revision });
    assert.ok((await a.read(node))?.includes(token), 'still listed after the delete');
    let held: () => void = () => undefined;
    const gate = new Promise<void>((r) => (held = r));
    let reachedCheck: () => void = () => undefined;
    const atCheck = new Promise<void>((r) => (reachedCheck = r));
    const kv = await new Kvm(second).open(buckets.desired);
    const paused = new Proxy(kv, {
      get(target, prop, receiver) {
        if (prop !== 'get') return Reflect.get(target, prop, receiver) as unknown;
        return async (k: string) => {
          const r = await target.get(k);
          if (k === keys.desired(node, label)) {
            reachedCheck();
            await gate;
          }
          return r;
        };
      },
    });
    const dropper = new DesiredIndex(paused, () => Date.now());
    const dropping = dropper.drop(node, token);
    await atCheck;
    const before = await cp.store.desired.get(keys.desired(node, label));
    await a.writeKey(node, label, 'v1', before);
    held();
    await dropping;
    assert.ok(await live(node, label));
    assert.ok((await a.read(node))?.includes(token), 'the live key is listed');
    // And the other order: the drop finishes before the create; the create lists it again.
    const e1 = await cp.store.desired.get(keys.desired(node, label));
    assert.ok(e1);
    await cp.store.desired.delete(keys.desired(node, label), { previousSeq: e1.revision });
    await b.drop(node, token);
    assert.ok(!(await a.read(node))?.includes(token), 'dropped');
    await a.writeKey(node, label, 'v2', await cp.store.desired.get(keys.desired(node, label)));
    assert.ok((await a.read(node))?.includes(token), 'listed again');
  });

  test('repair lists a key written behind the index and gives an indexless node an index', async () => {
    await cp.store.desired.put(keys.desired(other, 'com.acme.byhand'), 'x');
    assert.equal(await a.read(other), undefined);
    const r = await a.repair([other, 'ncccccccccccccccccccc']);
    assert.ok(r.created >= 2, JSON.stringify(r));
    assert.deepEqual(await a.read(other), [encodeLabelToken('com.acme.byhand')]);
    assert.deepEqual(await a.read('ncccccccccccccccccccc'), []);
    const again = await a.repair([other]);
    assert.equal(again.created + again.listed, 0, 'a second repair finds nothing to do');
  });
});
