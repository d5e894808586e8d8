/**
 * The controller's configuration file (JSON). Paths are absolute or relative to the file's
 * own directory. Unknown keys are errors (a typo should not silently run with a default).
 *
 * ```json
 * {
 *   "natsUrls": ["nats://127.0.0.1:4222"],     // required
 *   "keyStoreDir": "keys",                     // required: NATS operator/account seeds + signing keys (0700/0600)
 *   "apiTokensFile": "api-tokens.json",        // required: hashed API tokens with roles
 *   "grpcListen": "0.0.0.0:7400",              // default 127.0.0.1:7400
 *   "tls": { "certFile": "tls/server.crt", "keyFile": "tls/server.key" },
 *   "insecure": false,                         // plaintext gRPC: only with a loopback grpcListen
 *   "metricsListen": "0.0.0.0:9470",           // or null to disable; default 127.0.0.1:9470
 *   "consoleListen": "127.0.0.1:7443",         // the web console (HTTPS with `tls`); default: off
 *   "consoleSessionHours": 8,                  // a console session ends this long after sign-in
 *   "jetstreamReplicas": 1,                    // 1 on a single server, 3 on a cluster
 *   "heartbeatSeconds": 10,                    // the period agents beat at (their controller.heartbeatSeconds)
 *   "offlineAfterSeconds": 90,                 // a node is offline after this long unheard: > 1.2 x heartbeatSeconds
 *   "applyConcurrency": 256,                   // KV writes in flight during an apply
 *   "bundleValidityDays": 30,                  // default validity of signed bundles
 *   "nodeCredentialsDays": 30,                 // lifetime of node credentials (renewed at 50-80 % of it)
 *   "keepFinishedRolloutsDays": 30,            // a finished rollout is deleted this long after it ended
 *   "keepFinishedRollouts": 500,               // and beyond the newest this many finished ones
 *   "rotationRenewalSpreadMinutes": 60         // after a signing-key rotation, nodes renew within this
 * }
 * ```
 * Either `tls` or `"insecure": true` (loopback only) must be given: the API carries bearer
 * tokens, which must not cross a network in clear text.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { InvalidArgumentError } from '@launchfleet/shared';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface ControllerConfig {
  readonly natsUrls: readonly string[];
  readonly keyStoreDir: string;
  readonly apiTokensFile: string;
  readonly grpcListen: HostPort;
  readonly tls: { readonly certFile: string; readonly keyFile: string } | undefined;
  readonly insecure: boolean;
  readonly metricsListen: HostPort | undefined;
  /** The web console's HTTPS address (console/), or undefined when it is off. Needs `tls`. */
  readonly consoleListen: HostPort | undefined;
  readonly consoleSessionMs: number;
  readonly jetstreamReplicas: number;
  readonly offlineAfterMs: number;
  /**
   * The heartbeat period the fleet's agents use. offlineAfterMs is longer than the longest gap
   * between two beats (the period plus its 20 % random spread); three periods or more lets a node
   * miss a beat without flapping.
   */
  readonly heartbeatMs: number;
  readonly applyConcurrency: number;
  readonly bundleValidityMs: number;
  /** Lifetime of the NATS credentials issued to nodes (enrolment and renewal). */
  readonly nodeCredentialsLifetimeMs: number;
  /** Retention of finished rollouts (rollout-driver.ts): by age, and by count. */
  readonly keepFinishedRolloutsMs: number;
  readonly keepFinishedRollouts: number;
  /**
   * After the account's signing key changed, nodes holding credentials signed by another key are
   * asked to renew at a random point within this long (0: at once), so a large fleet does not
   * renew in the same second (identity/README.md, "Key rotation").
   */
  readonly rotationRenewalSpreadMs: number;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const known = new Set([
  'natsUrls',
  'keyStoreDir',
  'apiTokensFile',
  'grpcListen',
  'tls',
  'insecure',
  'metricsListen',
  'consoleListen',
  'consoleSessionHours',
  'jetstreamReplicas',
  'offlineAfterSeconds',
  'heartbeatSeconds',
  'applyConcurrency',
  'bundleValidityDays',
  'nodeCredentialsDays',
  'keepFinishedRolloutsDays',
  'keepFinishedRollouts',
  'rotationRenewalSpreadMinutes',
]);

export async function loadControllerConfig(file: string): Promise<ControllerConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read config ${file}: ${(e as Error).message}`, 'config');
  }
  return parseControllerConfig(text, file);
}

export function parseControllerConfig(text: string, file: string): ControllerConfig {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (e) {
    throw new InvalidArgumentError(`${file}: not valid JSON: ${(e as Error).message}`, file);
  }
  if (!isObject(doc)) throw new InvalidArgumentError(`${file}: the top level must be an object`, file);
  for (const k of Object.keys(doc))
    if (!known.has(k)) throw new InvalidArgumentError(`${file}: unknown key "${k}"`, k);
  const base = dirname(resolve(file));
  const path = (key: string, v: Json | undefined): string => {
    if (typeof v !== 'string' || v === '') throw bad(file, key, 'a non-empty path', v);
    return isAbsolute(v) ? v : resolve(base, v);
  };
  const urls = doc['natsUrls'];
  if (
    !Array.isArray(urls) ||
    urls.length === 0 ||
    !urls.every((u) => typeof u === 'string' && /^(nats|tls):\/\//.test(u))
  )
    throw bad(file, 'natsUrls', 'a non-empty array of nats:// URLs', urls);
  const grpcListen = listen(file, 'grpcListen', doc['grpcListen'] ?? '127.0.0.1:7400');
  const metricsRaw = doc['metricsListen'];
  const metricsListen =
    metricsRaw === null ? undefined : listen(file, 'metricsListen', metricsRaw ?? '127.0.0.1:9470');
  let tls: ControllerConfig['tls'];
  const t = doc['tls'];
  if (t !== undefined) {
    if (!isObject(t)) throw bad(file, 'tls', '{ "certFile": ..., "keyFile": ... }', t);
    for (const k of Object.keys(t))
      if (k !== 'certFile' && k !== 'keyFile')
        throw new InvalidArgumentError(`${file}: unknown key "tls.${k}"`, `tls.${k}`);
    tls = { certFile: path('tls.certFile', t['certFile']), keyFile: path('tls.keyFile', t['keyFile']) };
  }
  const insecure = doc['insecure'] ?? false;
  if (typeof insecure !== 'boolean') throw bad(file, 'insecure', 'true or false', insecure);
  if (!tls && !insecure)
    throw new InvalidArgumentError(
      `${file}: give "tls": { "certFile", "keyFile" }, or "insecure": true for a loopback-only development API`,
      'tls',
    );
  if (!tls && insecure && !isLoopback(grpcListen.host))
    throw new InvalidArgumentError(
      `${file}: "insecure": true is allowed only with a loopback grpcListen (got ${grpcListen.host}); configure tls`,
      'insecure',
    );
  const consoleRaw = doc['consoleListen'];
  const consoleListen =
    consoleRaw === null || consoleRaw === undefined ? undefined : listen(file, 'consoleListen', consoleRaw);
  if (consoleListen && !tls)
    throw new InvalidArgumentError(
      `${file}: consoleListen needs "tls": the console signs in with API tokens and keeps a session cookie, which must not cross a network in clear text`,
      'consoleListen',
    );
  const heartbeatSeconds = int(file, 'heartbeatSeconds', doc['heartbeatSeconds'], 1, 3600, 10);
  const offlineAfterSeconds = int(file, 'offlineAfterSeconds', doc['offlineAfterSeconds'], 1, 86_400, 90);
  if (offlineAfterSeconds <= maxBeatGap(heartbeatSeconds))
    throw new InvalidArgumentError(
      `${file}: offlineAfterSeconds (${offlineAfterSeconds}) must be longer than the longest gap between two ` +
        `heartbeats, ${maxBeatGap(heartbeatSeconds)} s (heartbeatSeconds ${heartbeatSeconds} plus its 20 % spread): ` +
        'every node would show offline between beats; three heartbeats or more is the usual choice',
      'offlineAfterSeconds',
    );
  return {
    natsUrls: urls as string[],
    keyStoreDir: path('keyStoreDir', doc['keyStoreDir']),
    apiTokensFile: path('apiTokensFile', doc['apiTokensFile']),
    grpcListen,
    tls,
    insecure: !tls && insecure,
    metricsListen,
    consoleListen,
    consoleSessionMs: int(file, 'consoleSessionHours', doc['consoleSessionHours'], 1, 168, 8) * 3600_000,
    jetstreamReplicas: int(file, 'jetstreamReplicas', doc['jetstreamReplicas'], 1, 5, 1),
    offlineAfterMs: offlineAfterSeconds * 1000,
    heartbeatMs: heartbeatSeconds * 1000,
    applyConcurrency: int(file, 'applyConcurrency', doc['applyConcurrency'], 1, 4096, 256),
    bundleValidityMs: int(file, 'bundleValidityDays', doc['bundleValidityDays'], 1, 400, 30) * 24 * 3600_000,
    nodeCredentialsLifetimeMs:
      int(file, 'nodeCredentialsDays', doc['nodeCredentialsDays'], 1, 400, 30) * 24 * 3600_000,
    keepFinishedRolloutsMs:
      int(file, 'keepFinishedRolloutsDays', doc['keepFinishedRolloutsDays'], 1, 3650, 30) * 24 * 3600_000,
    keepFinishedRollouts: int(file, 'keepFinishedRollouts', doc['keepFinishedRollouts'], 1, 100_000, 500),
    rotationRenewalSpreadMs:
      int(file, 'rotationRenewalSpreadMinutes', doc['rotationRenewalSpreadMinutes'], 0, 1440, 60) * 60_000,
  };
}

/** The longest time between two heartbeats of an agent beating every `heartbeat` (20 % spread). */
export function maxBeatGap(heartbeat: number): number {
  return Math.round(heartbeat * 1.2 * 1000) / 1000;
}

/** Parses `host:port` (`[v6]:port` too). */
export function parseHostPort(v: string): HostPort | undefined {
  const m = /^(.*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535 || m[1] === undefined || m[1] === '') return undefined;
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function listen(file: string, key: string, v: Json): HostPort {
  const hp = typeof v === 'string' ? parseHostPort(v) : undefined;
  if (!hp) throw bad(file, key, '"host:port"', v);
  return hp;
}

function int(file: string, key: string, v: Json | undefined, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw bad(file, key, `a whole number in [${min}, ${max}]`, v);
  return v;
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(file: string, key: string, expected: string, got: Json | undefined): InvalidArgumentError {
  return new InvalidArgumentError(
    `${file}: ${key}: expected ${expected}, got ${JSON.stringify(got ?? null)}`,
    key,
  );
}
