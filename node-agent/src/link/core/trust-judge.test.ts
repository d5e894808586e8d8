import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  type TrustCandidateOrigin,
  type TrustCheck,
  type TrustDecision,
  type TrustFollowState,
  initialTrustFollowState,
  judgeTrustCandidate,
} from './trust-judge.ts';

const newer: TrustCheck = { ok: true, unchanged: false };
const same: TrustCheck = { ok: true, unchanged: true };
const refused = (digest = 'd1'): TrustCheck => ({ ok: false, digest });
const live: TrustCandidateOrigin = { kind: 'live' };
const read = (revision: number, liveSeq = 0, confirming = false): TrustCandidateOrigin => ({
  kind: 'read',
  revision,
  liveSeq,
  confirming,
});
const st = (o: Partial<TrustFollowState> = {}): TrustFollowState => ({ ...initialTrustFollowState, ...o });

test('the decision table', () => {
  const rows: [string, TrustFollowState, TrustCheck, TrustCandidateOrigin, TrustDecision][] = [
    ['live newer store', st(), newer, live, 'apply'],
    ['read newer store', st({ heldRevision: 3 }), newer, read(5), 'apply'],
    ['live same store', st(), same, live, 'keep'],
    ['read same store', st(), same, read(3), 'keep'],
    ['live rollback or forgery', st({ heldRevision: 3 }), refused(), live, 'report'],
    [
      'live refusal of bytes reported before (a second put)',
      st({ reported: 'd1' }),
      refused(),
      live,
      'report',
    ],
    // The get was sent before live message 1 arrived: it may hold the value that message replaced.
    ['read overtaken by a live update', st({ liveSeq: 1 }), refused(), read(4, 0), 'stale'],
    ['read from a replica behind the held revision', st({ heldRevision: 5 }), refused(), read(4, 0), 'stale'],
    [
      'confirming read behind the held revision',
      st({ heldRevision: 5 }),
      refused(),
      read(4, 0, true),
      'stale',
    ],
    ['read, held revision unknown: confirm first', st(), refused(), read(4), 'confirm'],
    ['confirming read still refused', st(), refused(), read(4, 0, true), 'report'],
    [
      'read at or after the held revision: a real rollback',
      st({ heldRevision: 3 }),
      refused(),
      read(6),
      'report',
    ],
    [
      're-read of the bytes reported last',
      st({ heldRevision: 3, reported: 'd1' }),
      refused(),
      read(6),
      'reported',
    ],
    ['re-read of other refused bytes', st({ heldRevision: 3, reported: 'd0' }), refused(), read(7), 'report'],
  ];
  for (const [name, s, check, origin, want] of rows)
    assert.equal(judgeTrustCandidate(s, check, origin).decision, want, name);
});

test('a read teaches the held revision; a live update forgets it until the next read', () => {
  let s = judgeTrustCandidate(st(), same, read(3)).state;
  assert.equal(s.heldRevision, 3);
  s = judgeTrustCandidate(s, same, live).state;
  assert.equal(s.heldRevision, 3, 'the same store again: still revision 3');
  s = judgeTrustCandidate(s, newer, live).state;
  assert.equal(s.heldRevision, undefined);
  // So an old value read now cannot be told from a rollback at once: it is read again first.
  assert.equal(judgeTrustCandidate(s, refused(), read(3)).decision, 'confirm');
  s = judgeTrustCandidate(s, same, read(4)).state;
  assert.equal(s.heldRevision, 4);
  assert.equal(judgeTrustCandidate(s, refused(), read(3)).decision, 'stale');
});

test('a rollback kept in the bucket is reported once across periodic re-reads, then again if it changes', () => {
  let s = st({ heldRevision: 3 });
  const decisions: TrustDecision[] = [];
  for (const [check, rev] of [
    [refused('old'), 4],
    [refused('old'), 4],
    [refused('old'), 4],
    [refused('older'), 5],
    [refused('older'), 5],
  ] as const) {
    const r = judgeTrustCandidate(s, check, read(rev));
    decisions.push(r.decision);
    s = r.state;
  }
  assert.deepEqual(decisions, ['report', 'reported', 'reported', 'report', 'reported']);
});

test('nothing refused is ever applied, whatever the state and origin', () => {
  for (const s of [st(), st({ heldRevision: 2, liveSeq: 3, reported: 'x' })])
    for (const origin of [live, read(1), read(9, 3), read(9, 3, true)])
      assert.notEqual(judgeTrustCandidate(s, refused(), origin).decision, 'apply');
});
