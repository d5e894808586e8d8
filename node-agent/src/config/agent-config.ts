/**
 * The agent's configuration file (JSON), its defaults and its validation.
 *
 * The agent runs as root in production (it manages the system domain and runs users' agents as
 * those users) or unprivileged for development, where it runs every job as its own user and
 * keeps its state under the working directory. Paths in the file are absolute, or relative to
 * the file's own directory.
 */
import { isAbsolute, join, resolve, dirname } from 'node:path';
import { InvalidArgumentError } from '@launchfleet/shared/errors';

/** How to read launchd's version disagreements (docs/launchd-semantics.md §7). */
export type LaunchdFlavor = '842' | 'modern';

export interface AgentConfig {
  /** Overrides, last status, credentials. Root default: /var/lib/launchfleet. */
  readonly stateDir: string;
  /** Control sockets (lfctl). Root default: /var/run/launchfleet. */
  readonly runDir: string;
  /**
   * Directories the system domain loads at start (docs/launchd-semantics.md §3.2: /Library/LaunchDaemons on a
   * Mac).
   */
  readonly daemonDirectories: readonly string[];
  /**
   * Directories every gui/<uid> and user/<uid> domain loads (docs/launchd-semantics.md §3.2:
   * /Library/LaunchAgents).
   */
  readonly agentDirectories: readonly string[];
  /** Load ~/Library/LaunchAgents into gui/<uid> domains (never into user/<uid>, as launchd). */
  readonly loadHomeAgents: boolean;
  /** Per-user domains: which users get gui/<uid> domains and how sessions are detected. */
  readonly sessions: {
    /** 'utmp' (logged-in users), 'console' (macOS console owner), or 'none' (only on request). */
    readonly source: 'utmp' | 'console' | 'none';
    /** The utmp file for 'utmp' (default /var/run/utmp, then /run/utmp). */
    readonly utmpPath?: string;
  };
  /** launchd defaults and version choices. */
  readonly launchd: {
    readonly flavor: LaunchdFlavor;
    /** ExitTimeOut default in seconds (842: 20; modern prints 5). */
    readonly exitTimeOutSeconds: number;
    /** ThrottleInterval default in seconds. */
    readonly throttleIntervalSeconds: number;
  };
  /** The local /metrics endpoint; undefined to disable. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** The fleet link; undefined runs the agent standalone. */
  readonly controller?: {
    readonly natsUrls: readonly string[];
    /** File holding the one-time bootstrap token for enrolment. */
    readonly bootstrapTokenFile?: string;
    /** Labels reported in the node's inventory, matched by rollout and apply selectors (`site=ams`). */
    readonly labels?: Readonly<Record<string, string>>;
    /**
     * Heartbeat period in seconds (plus up to 20 % random spread). Default 10. The controller's
     * `offlineAfterSeconds` must be longer than 1.2 times this: it flags nodes that beat too slowly.
     */
    readonly heartbeatSeconds?: number;
  };
}

/** Defaults for a root agent on Linux; unprivileged agents keep everything under `cwd/.launchfleet`. */
export function defaultConfig(opts: { isRoot: boolean; cwd: string }): AgentConfig {
  const base = opts.isRoot ? undefined : join(opts.cwd, '.launchfleet', 'agent');
  return {
    stateDir: base ? join(base, 'state') : '/var/lib/launchfleet',
    runDir: base ? join(base, 'run') : '/var/run/launchfleet',
    daemonDirectories: base
      ? [join(base, 'LaunchDaemons')]
      : ['/Library/LaunchDaemons', '/etc/launchfleet/LaunchDaemons'],
    agentDirectories: base
      ? [join(base, 'LaunchAgents')]
      : ['/Library/LaunchAgents', '/etc/launchfleet/LaunchAgents'],
    loadHomeAgents: opts.isRoot,
    sessions: { source: opts.isRoot ? 'utmp' : 'none' },
    launchd: { flavor: '842', exitTimeOutSeconds: 20, throttleIntervalSeconds: 10 },
    metricsListen: { host: '127.0.0.1', port: 9469 },
  };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * Parses a config file's text over the defaults. Unknown keys are errors (a typo in a config
 * file should not silently run with defaults); every error names the key.
 */
export function parseAgentConfig(text: string, file: string, defaults: AgentConfig): AgentConfig {
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (e) {
    throw new InvalidArgumentError(`${file}: not valid JSON: ${(e as Error).message}`, file);
  }
  if (!isObject(doc)) throw new InvalidArgumentError(`${file}: the top level must be an object`, file);
  const base = dirname(resolve(file));
  const path = (key: string, v: Json): string => {
    if (typeof v !== 'string' || v === '') throw bad(file, key, 'a non-empty path string', v);
    return isAbsolute(v) ? v : resolve(base, v);
  };
  const paths = (key: string, v: Json): string[] => {
    if (!Array.isArray(v)) throw bad(file, key, 'an array of paths', v);
    return v.map((x, i) => path(`${key}[${i}]`, x));
  };
  let cfg: AgentConfig = defaults;
  for (const [key, v] of Object.entries(doc)) {
    switch (key) {
      case 'stateDir':
        cfg = { ...cfg, stateDir: path(key, v) };
        break;
      case 'runDir':
        cfg = { ...cfg, runDir: path(key, v) };
        break;
      case 'daemonDirectories':
        cfg = { ...cfg, daemonDirectories: paths(key, v) };
        break;
      case 'agentDirectories':
        cfg = { ...cfg, agentDirectories: paths(key, v) };
        break;
      case 'loadHomeAgents':
        if (typeof v !== 'boolean') throw bad(file, key, 'true or false', v);
        cfg = { ...cfg, loadHomeAgents: v };
        break;
      case 'sessions': {
        const src = isObject(v) ? v['source'] : undefined;
        if (src !== 'utmp' && src !== 'console' && src !== 'none')
          throw bad(file, 'sessions.source', '"utmp", "console" or "none"', src ?? null);
        const utmp = isObject(v) ? v['utmpPath'] : undefined;
        if (isObject(v))
          for (const k of Object.keys(v))
            if (k !== 'source' && k !== 'utmpPath')
              throw new InvalidArgumentError(`${file}: unknown key "sessions.${k}"`, `sessions.${k}`);
        cfg = {
          ...cfg,
          sessions: {
            source: src,
            ...(utmp === undefined ? {} : { utmpPath: path('sessions.utmpPath', utmp) }),
          },
        };
        break;
      }
      case 'launchd':
        cfg = { ...cfg, launchd: parseLaunchd(file, v, cfg.launchd) };
        break;
      case 'metricsListen':
        cfg = { ...cfg, ...parseListen(file, v) };
        break;
      case 'controller':
        cfg = { ...cfg, controller: parseController(file, v, path) };
        break;
      default:
        throw new InvalidArgumentError(`${file}: unknown key "${key}"`, key);
    }
  }
  return cfg;
}

function parseLaunchd(file: string, v: Json, d: AgentConfig['launchd']): AgentConfig['launchd'] {
  if (!isObject(v)) throw bad(file, 'launchd', 'an object', v);
  let out = d;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'flavor') {
      if (x !== '842' && x !== 'modern') throw bad(file, 'launchd.flavor', '"842" or "modern"', x);
      out = { ...out, flavor: x };
    } else if (k === 'exitTimeOutSeconds' || k === 'throttleIntervalSeconds') {
      if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
        throw bad(file, `launchd.${k}`, 'a whole number of seconds >= 0', x);
      out = { ...out, [k]: x };
    } else throw new InvalidArgumentError(`${file}: unknown key "launchd.${k}"`, `launchd.${k}`);
  }
  return out;
}

function parseListen(file: string, v: Json): Pick<AgentConfig, 'metricsListen'> {
  if (v === null) return { metricsListen: undefined };
  if (typeof v !== 'string') throw bad(file, 'metricsListen', '"host:port" or null', v);
  const m = /^(.*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw bad(file, 'metricsListen', '"host:port" or null', v);
  return { metricsListen: { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), port } };
}

function parseController(
  file: string,
  v: Json,
  path: (key: string, v: Json) => string,
): AgentConfig['controller'] {
  if (!isObject(v)) throw bad(file, 'controller', 'an object', v);
  const urls = v['natsUrls'];
  if (!Array.isArray(urls) || urls.length === 0 || !urls.every((u) => typeof u === 'string'))
    throw bad(file, 'controller.natsUrls', 'a non-empty array of nats:// URLs', urls ?? null);
  for (const k of Object.keys(v))
    if (k !== 'natsUrls' && k !== 'bootstrapTokenFile' && k !== 'labels' && k !== 'heartbeatSeconds')
      throw new InvalidArgumentError(`${file}: unknown key "controller.${k}"`, `controller.${k}`);
  const tokenFile = v['bootstrapTokenFile'];
  const labels = parseLabels(file, v['labels']);
  const hb = v['heartbeatSeconds'];
  if (hb !== undefined && (typeof hb !== 'number' || !Number.isInteger(hb) || hb < 1 || hb > 3600))
    throw bad(file, 'controller.heartbeatSeconds', 'a whole number of seconds in [1, 3600]', hb);
  return {
    ...(labels ? { labels } : {}),
    ...(hb !== undefined && { heartbeatSeconds: hb }),
    natsUrls: urls,
    ...(tokenFile === undefined
      ? {}
      : { bootstrapTokenFile: path('controller.bootstrapTokenFile', tokenFile) }),
  };
}

/** Selector labels: short keys and values of letters, digits and `._-` (they end up in NATS messages). */
function parseLabels(file: string, v: Json | undefined): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (!isObject(v)) throw bad(file, 'controller.labels', 'an object of string labels', v);
  const out: Record<string, string> = {};
  const ok = /^[A-Za-z0-9._-]{1,63}$/;
  for (const [k, x] of Object.entries(v)) {
    if (!ok.test(k) || typeof x !== 'string' || !(x === '' || ok.test(x)))
      throw bad(file, `controller.labels.${k}`, 'a label of letters, digits and ._- (at most 63)', x);
    out[k] = x;
  }
  return out;
}

function isObject(v: Json | undefined): v is { [k: string]: Json } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function bad(file: string, key: string, expected: string, got: Json): InvalidArgumentError {
  return new InvalidArgumentError(`${file}: ${key}: expected ${expected}, got ${JSON.stringify(got)}`, key);
}
