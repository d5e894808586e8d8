/**
 * KeepAlive (docs/launchd-semantics.md §1.4): a bool, or a dict of conditions that launchd ORs. An empty dict
 * is false. Sub-keys are matched case-insensitively; unknown ones (Apple's own `KeepAlive.KeepAlive`
 * typo) are ignored with a warning, as launchd's `semaphoreitem_setup` ignores them.
 */
import type { KeepAliveSpec, PlistValue } from './job-spec.ts';
import { childPath, type ValueReader } from './value-reader.ts';

/** KeepAlive when the key is absent or unusable: demand only. */
export const noKeepAlive: KeepAliveSpec = {
  always: false,
  pathState: new Map(),
  otherJobEnabled: new Map(),
  otherJobActive: new Map(),
  afterInitialDemand: false,
};

const subKeys = [
  'SuccessfulExit',
  'Crashed',
  'NetworkState',
  'PathState',
  'OtherJobEnabled',
  'OtherJobActive',
  'AfterInitialDemand',
] as const;

/** Reads KeepAlive; `undefined` when the value is unusable (a warning was recorded). */
export function readKeepAlive(r: ValueReader, path: string, v: PlistValue): KeepAliveSpec | undefined {
  if (typeof v === 'boolean') return { ...noKeepAlive, always: v };
  const dict = r.dict(path, v, 'bool or dict');
  if (dict === undefined) return undefined;
  const keys = r.subKeys(
    path,
    dict,
    subKeys,
    'launchd ignores unknown KeepAlive conditions and loads the job',
  );
  let successfulExit: boolean | undefined;
  let crashed: boolean | undefined;
  let networkState: boolean | undefined;
  let afterInitialDemand = false;
  let pathState = new Map<string, boolean>();
  let otherJobEnabled = new Map<string, boolean>();
  let otherJobActive = new Map<string, boolean>();
  for (const [name, value] of keys) {
    const at = childPath(path, name);
    switch (name) {
      case 'SuccessfulExit':
        successfulExit = r.bool(at, value);
        break;
      case 'Crashed':
        crashed = r.bool(at, value);
        break;
      case 'NetworkState':
        networkState = r.bool(at, value);
        r.issues.add({
          severity: 'warning',
          code: 'deprecated-key',
          keyPath: at,
          what: 'NetworkState is "no longer implemented" on modern macOS (launchd 842 honoured it)',
          launchd: 'ignores-key',
          because: 'modern launchd ignores this condition and loads the job',
        });
        break;
      case 'AfterInitialDemand':
        afterInitialDemand = r.bool(at, value) ?? false;
        break;
      case 'PathState':
        pathState = boolMap(r, at, value);
        break;
      case 'OtherJobEnabled':
        otherJobEnabled = boolMap(r, at, value);
        break;
      case 'OtherJobActive':
        otherJobActive = boolMap(r, at, value);
        break;
      default:
        break;
    }
  }
  return {
    always: false,
    ...(successfulExit !== undefined ? { successfulExit } : {}),
    ...(crashed !== undefined ? { crashed } : {}),
    ...(networkState !== undefined ? { networkState } : {}),
    pathState,
    otherJobEnabled,
    otherJobActive,
    afterInitialDemand,
  };
}

/** dict<string, bool> (PathState, OtherJobEnabled, OtherJobActive): non-bool entries are dropped. */
function boolMap(r: ValueReader, path: string, v: PlistValue): Map<string, boolean> {
  const out = new Map<string, boolean>();
  const dict = r.dict(path, v, 'dict of string to bool');
  if (dict === undefined) return out;
  for (const [key, value] of Object.entries(dict)) {
    const b = r.bool(childPath(path, key), value);
    if (b !== undefined) out.set(key, b);
  }
  return out;
}

/** True when the KeepAlive spec has any condition at all (an empty dict has none). */
export function hasKeepAliveCondition(k: KeepAliveSpec): boolean {
  return (
    k.always ||
    k.successfulExit !== undefined ||
    k.crashed !== undefined ||
    k.networkState !== undefined ||
    k.pathState.size > 0 ||
    k.otherJobEnabled.size > 0 ||
    k.otherJobActive.size > 0
  );
}
