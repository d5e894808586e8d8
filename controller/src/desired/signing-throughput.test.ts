/**
 * Signing throughput, the CPU half of "apply to 10,000 nodes within 10 s": one Ed25519
 * signature (plus the bundle validation and canonical JSON the signer does) per node.
 * The bound is loose and on this process's CPU time, not wall time, so a busy machine does not
 * fail it; the measured rate is printed. The fleet benchmark measures whole applies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeSignedBundle, generateSigningKey, signBundle } from '@launchfleet/shared/signing';
import { nodeIdFromRandom } from '@launchfleet/shared/messages';

test('signs bundles for 10,000 nodes in well under the 10 s apply budget', (t) => {
  const key = generateSigningKey();
  const plist = `<?xml version="1.0"?><plist version="1.0"><dict><key>Label</key><string>com.acme.backup</string><key>ProgramArguments</key><array>${'<string>/usr/local/bin/backup --flag</string>'.repeat(20)}</array></dict></plist>`;
  const ids = Array.from({ length: 10_000 }, (_, i) =>
    nodeIdFromRandom(new Uint8Array(13).map((_, j) => (i >> (j % 3)) + j)),
  );
  const now = Date.now();
  const t0 = process.cpuUsage();
  let bytes = 0;
  for (const nodeId of ids) {
    const s = signBundle(
      {
        label: 'com.acme.backup',
        domain: 'system',
        plist,
        version: 7,
        issuedAt: now,
        expiresAt: now + 3600_000,
        keyId: key.keyId,
        nodeId,
      },
      key,
    );
    bytes += encodeSignedBundle(s).length;
  }
  const used = process.cpuUsage(t0);
  const ms = (used.user + used.system) / 1000;
  const rate = Math.round((ids.length / ms) * 1000);
  t.diagnostic(
    `signed ${ids.length} bundles (${Math.round(bytes / 1024)} KiB) in ${Math.round(ms)} ms of CPU: ${rate}/s`,
  );
  assert.ok(ms < 5000, `signing 10,000 bundles took ${Math.round(ms)} ms of CPU`);
});
