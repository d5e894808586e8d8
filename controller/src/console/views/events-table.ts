/** The recent-events table of job and node pages. */
import type { ConsoleEvent } from '../core/event-ring.ts';
import { type SafeHtml, html } from '../core/html.ts';
import { href } from '../core/query.ts';
import { timeAt } from '../core/format.ts';
import { columnHeads } from './widgets.ts';

export function eventsTable(events: readonly ConsoleEvent[], showSource: boolean): SafeHtml {
  if (events.length === 0)
    return html`<p class="muted">No events since the controller started following them.</p>`;
  return html`<table class="grid events">
    ${columnHeads('When', ...(showSource ? ['From'] : []), 'Kind', 'Job', 'Reason', 'Detail')}
    <tbody>
      ${events.map(
        (e) =>
          html`<tr>
            <td>${timeAt(e.at)}</td>
            ${showSource ? html`<td>${e.source === 'controller' ? 'controller' : html`<a class="mono small" href="${href(['nodes', e.source])}">${e.source}</a>`}</td>` : ''}
            <td>${e.kind}</td>
            <td>
              ${e.label ? html`<a href="${href(['jobs', e.label])}">${e.label}</a>` : ''}${e.version ? html` <span class="muted small">v${e.version}</span>` : ''}
            </td>
            <td>${e.reason}</td>
            <td class="small">${e.detail}</td>
          </tr>`,
      )}
    </tbody>
  </table>`;
}
