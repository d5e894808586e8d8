/**
 * What the console's buttons and forms do, each through the gRPC call policy
 * (api/grpc-methods.ts `runUnderPolicy`) with the rule of the gRPC method it stands for, and the
 * same handlers: a change made here is checked (role), carried out and audited exactly as the
 * same change made with `launchfleet rollout ...`. Forms are translated into the wire request
 * the handlers already decode (api/rollout-handlers.ts `decodeStart`), so validation is shared too.
 */
import { InvalidArgumentError } from '@launchfleet/shared';
import type { ApiPrincipal } from '../auth/api-tokens.ts';
import { rolloutMethodPolicy } from '../auth/core/roles.ts';
import { type PolicyEffects, runUnderPolicy } from '../api/grpc-methods.ts';
import type * as m from '../api/fleet-messages.ts';
import type { RolloutHandlers } from '../api/rollout-handlers.ts';
import type { CommandType } from '../rollout/rollout-service.ts';

/** The console's command names and the gRPC methods they are. */
export const commandMethods = {
  pause: 'PauseRollout',
  resume: 'ResumeRollout',
  abort: 'AbortRollout',
  rollback: 'RollbackRollout',
} as const satisfies Record<CommandType, keyof typeof rolloutMethodPolicy>;

export function isCommand(s: string): s is CommandType {
  return Object.hasOwn(commandMethods, s);
}

function int(form: URLSearchParams, name: string, min: number, max: number, dflt: number): number {
  const raw = (form.get(name) ?? '').trim();
  if (raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new InvalidArgumentError(
      `${name}: a whole number from ${min} to ${max}, not ${JSON.stringify(raw.slice(0, 20))}`,
      name,
    );
  return n;
}

/**
 * The start-rollout form as a StartRolloutRequest message (rollout.proto, the generated type the
 * gRPC handler receives: every field present, proto defaults where the form has no field).
 */
export function startRequestOf(form: URLSearchParams): m.StartRolloutRequest {
  const plist = form.get('plist') ?? '';
  if (plist.trim() === '') throw new InvalidArgumentError('plist: paste the job plist to roll out', 'plist');
  const targetText = (form.get('target') ?? '').trim();
  const kind = form.get('targetKind') ?? 'nodes';
  let target: m.Target;
  if (kind === 'all') target = { kind: 'all', all: true };
  else if (kind === 'selector') target = { kind: 'selector', selector: targetText };
  else if (kind === 'nodes')
    target = { kind: 'nodes', nodes: { names: targetText.split(/[\s,]+/).filter((s) => s !== '') } };
  else throw new InvalidArgumentError('targetKind: nodes, selector or all', 'targetKind');
  const wavesText = (form.get('waves') ?? '').trim();
  const waves = wavesText === '' ? [] : wavesText.split(/[\s,]+/).filter((s) => s !== '');
  if (waves.length > 20) throw new InvalidArgumentError('waves: at most 20', 'waves');
  return {
    rolloutId: '',
    plist,
    domain: (form.get('domain') ?? '').trim() || 'system',
    target,
    canary: { kind: 'nodes', nodes: int(form, 'canary', 0, 1_000_000, 1) },
    waves: waves.map((w) => {
      const p = Number(w.replace(/%$/, ''));
      if (!Number.isFinite(p) || p <= 0 || p > 100)
        throw new InvalidArgumentError(
          `waves: percentages from 1 to 100, not ${JSON.stringify(w.slice(0, 20))}`,
          'waves',
        );
      return { kind: 'percent' as const, percent: p };
    }),
    maxUnavailable: { kind: 'nodes', nodes: int(form, 'maxUnavailable', 1, 1_000_000, 1) },
    minHealthySeconds: int(form, 'minHealthySeconds', 1, 86_400, 30),
    progressDeadlineSeconds: int(form, 'progressDeadlineSeconds', 1, 7 * 86_400, 300),
    noAutoRollback: form.get('noAutoRollback') === '1',
    allAtOnce: false,
    maxUnhealthy: null,
    jobKind: '',
    allowCrashInWindow: false,
  };
}

export class ConsoleActions {
  readonly #p: PolicyEffects;
  readonly #h: RolloutHandlers;

  constructor(p: PolicyEffects, h: RolloutHandlers) {
    this.#p = p;
    this.#h = h;
  }

  /** Starts a rollout; resolves to its id or to the failure (already audited). */
  async start(who: ApiPrincipal, form: URLSearchParams): Promise<{ id: string } | { failure: unknown }> {
    let id = '';
    const failure = await runUnderPolicy(
      this.#p,
      'StartRollout',
      rolloutMethodPolicy.StartRollout,
      () => who,
      (form.get('label') ?? '').slice(0, 255),
      async (ctx) => {
        const res = await this.#h.StartRollout(startRequestOf(form), ctx);
        id = res.rolloutId;
      },
    );
    return failure === undefined ? { id } : { failure };
  }

  /** Pause, resume, abort or roll back; resolves to the driver's answer or to the failure. */
  async command(
    who: ApiPrincipal,
    type: CommandType,
    rolloutId: string,
    reason: string,
  ): Promise<{ applied: boolean; result: string } | { failure: unknown }> {
    const method = commandMethods[type];
    let out = { applied: false, result: '' };
    const failure = await runUnderPolicy(
      this.#p,
      method,
      rolloutMethodPolicy[method],
      () => who,
      rolloutId.slice(0, 64),
      async (ctx) => {
        const res = await this.#h.command(type, { rolloutId, reason: reason.slice(0, 200) }, ctx);
        out = { applied: res.commandApplied, result: res.commandResult };
      },
    );
    return failure === undefined ? out : { failure };
  }
}
