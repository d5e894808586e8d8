import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamSequence } from './kv-catch-up.ts';

test('the stream sequence comes from either form of a JetStream reply subject', () => {
  // nats-server 2.9 without a domain: $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ms>.<pending>
  assert.equal(streamSequence('$JS.ACK.KV_lf_desired.lfcu_x.1.42.1.1700000000000000000.3'), 42);
  // The domain form: $JS.ACK.<domain>.<account>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ms>.<pending>.<token>
  assert.equal(streamSequence('$JS.ACK._.ACCHASH.KV_lf_desired.lfcu_x.1.77.1.1700000000000000000.0.abc'), 77);
  assert.equal(streamSequence('$JS.ACK._.ACCHASH.KV_lf_desired.lfcu_x.1.78.1.1700000000000000000.0'), 78);
});

test('anything else is refused with the subject in the message', () => {
  assert.throws(() => streamSequence(''), /not a JetStream delivery: \(no reply\)/);
  assert.throws(() => streamSequence('_INBOX.abc'), /not a JetStream delivery: _INBOX\.abc/);
  assert.throws(() => streamSequence('$JS.ACK.a.b.c'), /no stream sequence in \$JS\.ACK\.a\.b\.c/);
  assert.throws(() => streamSequence('$JS.ACK.S.C.1.x.1.0.0'), /no stream sequence/);
});
