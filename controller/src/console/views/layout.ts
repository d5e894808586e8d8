/**
 * The page shell every console page shares: navigation, who is signed in (and a sign-out
 * form), the live-update status, and `data-topics`, which tells the client script which
 * change topics (console/live-feed.ts) should refresh this page's `#live` region.
 */
import type { Role } from '../../auth/core/roles.ts';
import { type SafeHtml, html, trustedAsset } from '../core/html.ts';

/** Who is looking, and what the page may offer them. */
export interface Viewer {
  readonly name: string;
  readonly role: Role;
  /** The session's CSRF token, put into every form. */
  readonly csrf: string;
}

export type Section = 'overview' | 'jobs' | 'nodes' | 'rollouts';

export interface PageShell {
  readonly title: string;
  readonly section: Section | undefined;
  /** Change topics that refresh `#live` (see console/live-feed.ts). */
  readonly topics: readonly string[];
  readonly body: SafeHtml;
}

const sections: readonly [Section, string, string][] = [
  ['overview', '/', 'Overview'],
  ['jobs', '/jobs', 'Jobs'],
  ['nodes', '/nodes', 'Nodes'],
  ['rollouts', '/rollouts', 'Rollouts'],
];

/** The hidden CSRF field of a form. */
export function csrfField(v: Viewer): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${v.csrf}" />`;
}

function head(title: string): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>${title} · Launchfleet</title>
        <link rel="stylesheet" href="${trustedAsset('/assets/console.css')}" />
        <link rel="icon" href="${trustedAsset('/assets/favicon.svg')}" type="image/svg+xml" />
        <script src="${trustedAsset('/assets/console.js')}" defer></script>
      </head>
    </html>`;
}

export function page(v: Viewer, p: PageShell): SafeHtml {
  return html`${head(p.title)}
<body data-topics="${p.topics.join(' ')}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="/" aria-label="Launchfleet overview"><span class="logo" aria-hidden="true">◆</span> Launchfleet</a>
  <nav aria-label="Sections">${sections.map(
    ([s, url, name]) =>
      html`<a
        href="${url}"
        ${s === p.section ? html` aria-current="page"` : ''}
        data-key="${name[0]?.toLowerCase()}"
        >${name}</a
      >`,
  )}</nav>
  <span class="live-status" id="live-status" role="status" aria-live="polite" data-state="connecting">Connecting…</span>
  <div class="who">
    <span title="API token name and role">${v.name} · <b>${v.role}</b></span>
    <form method="post" action="/logout" class="inline">${csrfField(v)}<button type="submit" class="link">Sign out</button></form>
  </div>
</header>
<main id="main" tabindex="-1">
${p.body}
</main>
<footer class="foot"><span class="muted">Times in your time zone · <kbd>/</kbd> filter · <kbd>g</kbd> then <kbd>o</kbd>/<kbd>j</kbd>/<kbd>n</kbd>/<kbd>r</kbd> to move between sections</span></footer>
</body>
</html>
`;
}

/** The sign-in page (no session yet). */
export function loginPage(o: { readonly error?: string; readonly next: string }): SafeHtml {
  return html`${head('Sign in')}
<body class="login" data-topics="">
<main id="main" class="login-box">
  <h1><span class="logo" aria-hidden="true">◆</span> Launchfleet</h1>
  <p class="muted">Sign in with an API token (<code>launchfleet api-tokens add</code>). Viewers see everything; operators and admins can also change rollouts.</p>
  ${o.error ? html`<p class="error" role="alert" id="login-error">${o.error}</p>` : ''}
  <form method="post" action="/login">
    <input type="hidden" name="next" value="${o.next}">
    <label for="token">API token</label>
    <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required autofocus placeholder="lfat_…">
    <button type="submit" class="primary">Sign in</button>
  </form>
</main>
</body>
</html>
`;
}

/** A page for a refused or failed request (the status code says which). */
export function errorPage(v: Viewer | undefined, title: string, message: string, back?: string): SafeHtml {
  const body = html`<h1>${title}</h1>
    <p class="error" role="alert">${message}</p>
    <p>${back ? html`<a href="${back}">Back</a> · ` : ''}<a href="/">Overview</a></p>`;
  if (v) return page(v, { title, section: undefined, topics: [], body });
  return html`${head(title)}<body class="login"><main id="main" class="login-box">${body}</main></body></html>`;
}
