/** The operator's form on a job's page that starts a rollout (POST /rollouts, console-actions.ts). */
import { type JobRecord } from '../../desired/job-record.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { type Viewer, csrfField } from './layout.ts';

/** The operator's form: the plist (today's by default), the target, canary and waves, the gate. */
export function startRolloutForm(v: Viewer, rec: JobRecord): SafeHtml {
  const t = rec.target;
  const targetText = t.kind === 'selector' ? t.selector : t.kind === 'nodes' ? t.names.join(' ') : '';
  return html`<details class="panel" id="start-rollout">
    <summary><h2>Start a rollout</h2></summary>
    <form method="post" action="/rollouts" class="stack">
      ${csrfField(v)}
      <input type="hidden" name="label" value="${rec.label}" />
      <label for="plist">Job plist (the new version)</label>
      <textarea id="plist" name="plist" rows="12" spellcheck="false" class="mono" required>
${rec.plist}</textarea>
      <div class="row">
        <label>Domain <input name="domain" value="${rec.domain}" required /></label>
        <label
          >Target
          <select name="targetKind">
            <option value="nodes" ${t.kind === 'nodes' ? html` selected` : ''}>node ids or hostnames</option>
            <option value="selector" ${t.kind === 'selector' ? html` selected` : ''}>label selector</option>
            <option value="all" ${t.kind === 'all' ? html` selected` : ''}>every node</option>
          </select></label
        >
        <label>Nodes / selector <input name="target" value="${targetText}" class="mono" /></label>
      </div>
      <div class="row">
        <label>Canary nodes <input name="canary" type="number" min="0" value="1" /></label>
        <label>Waves (% of target) <input name="waves" value="25,100" pattern="[0-9, ]*" /></label>
        <label>Max unavailable <input name="maxUnavailable" type="number" min="1" value="1" /></label>
        <label>Healthy for (s) <input name="minHealthySeconds" type="number" min="1" value="30" /></label>
        <label>Deadline (s) <input name="progressDeadlineSeconds" type="number" min="1" value="300" /></label>
        <label class="check"
          ><input type="checkbox" name="noAutoRollback" value="1" /> no automatic rollback</label
        >
      </div>
      <button type="submit" class="primary">Start rollout</button>
    </form>
  </details>`;
}
