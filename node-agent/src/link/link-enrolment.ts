/**
 * One enrolment attempt of the fleet link: the bootstrap token and the enrol user's credentials
 * read from where the configuration says, then enroll.ts (a request to the controller over
 * NATS). On success the identity is in force (renewal started, trust store loaded); on failure
 * the connection state says why (`lastError`, classified in `lastEnrolError`), and the loop
 * decides when to try again (fleet-link.ts).
 */
import { readFile } from 'node:fs/promises';
import { FailedPreconditionError, messageOf } from '@launchfleet/shared/errors';
import type { Inventory } from '@launchfleet/shared/messages';
import { type NodeIdentity, readCredsParts } from './credentials.ts';
import { enroll } from './enroll.ts';
import { linkDefaults } from './fleet-link-settings.ts';
import type { LinkContext } from './link-context.ts';
import { enrolmentError } from './link-failure.ts';

/** An enrolment that cannot start: a person must give the agent what it needs. */
function cannotEnrol(ctx: LinkContext, why: string): false {
  ctx.conn.lastError = why;
  ctx.conn.lastEnrolError = new FailedPreconditionError(why);
  return false;
}

/**
 * Enrols (or, with `again`, re-enrols as the same node with its own key). Resolves to whether
 * the node now has an identity.
 */
export async function enrolOnce(ctx: LinkContext, again?: NodeIdentity): Promise<boolean> {
  const { conn: c, controller, set, log } = ctx;
  c.lastEnrolUnreachable = false;
  c.state = 'enrolling';
  const tokenFile = controller.bootstrapTokenFile;
  if (!tokenFile) return cannotEnrol(ctx, 'not enrolled and no controller.bootstrapTokenFile configured');
  let tokenText: string;
  try {
    tokenText = await readFile(tokenFile, 'utf8');
  } catch (e) {
    return cannotEnrol(ctx, `cannot read the bootstrap token file: ${messageOf(e)}`);
  }
  const token =
    tokenText
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l.startsWith('lfbt_')) ?? '';
  let creds = set.enrollCreds;
  if (!creds && set.enrollCredsFile)
    creds = new Uint8Array(await readFile(set.enrollCredsFile).catch(() => Buffer.alloc(0)));
  if (!creds && tokenText.includes('-----BEGIN NATS USER JWT-----'))
    creds = new TextEncoder().encode(tokenText.slice(tokenText.indexOf('-----BEGIN NATS USER JWT-----')));
  if (!creds || creds.byteLength === 0)
    return cannotEnrol(
      ctx,
      'no enrolment credentials (settings.enrollCreds, enrollCredsFile, or a creds block in the token file)',
    );
  const r = await enroll({
    servers: [...controller.natsUrls],
    enrollCreds: creds,
    token,
    stateDir: ctx.o.stateDir,
    hostname: ctx.hostname,
    inventory: enrollInventory(set.labels ?? {}, ctx.agentVersion),
    ...(set.pinnedKeyIds && { pinnedKeyIds: set.pinnedKeyIds }),
    timeoutMs: set.connectTimeoutMs ?? linkDefaults.connectTimeoutMs,
    now: () => ctx.o.clock.wallMs(),
    ...(again && { reenroll: { nodeId: again.nodeId, seed: (await readCredsParts(again))?.seed ?? '' } }),
  });
  c.lastEnrolUnreachable = !r.ok && r.error.kind === 'unreachable';
  if (!r.ok) {
    c.lastError = `enrolment failed: ${r.error.kind}: ${r.error.reason}: ${r.error.detail}`;
    c.lastEnrolError = enrolmentError(r.error, c.lastError);
    // Unreachable, or a controller too busy to answer (a fleet enrolling at once): retried with
    // backoff, not an error to page anyone about. A refused token or a bad reply is.
    const busy =
      r.error.kind === 'refused' && r.error.reason === 'internal' && r.error.detail.startsWith('busy');
    log(
      r.error.kind === 'unreachable' ? 'info' : busy ? 'warn' : 'error',
      'link',
      `${c.lastError}${busy ? ' (will retry)' : ''}`,
    );
    return false;
  }
  c.identity = r.value;
  await ctx.startRenewal(c.identity);
  log('info', 'link', `enrolled as ${c.identity.nodeId}`);
  ctx.reporter.setNodeId(c.identity.nodeId);
  await ctx.loadTrust();
  return true;
}

/** The inventory sent at enrolment (flat strings). */
function enrollInventory(labels: Readonly<Record<string, string>>, agentVersion: string): Inventory {
  const os = process.platform === 'darwin' ? 'macos' : process.platform;
  return { ...labels, os, arch: process.arch, agentVersion };
}
