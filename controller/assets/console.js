// Launchfleet web console: the only script the pages load (no framework, no build step).
// - Live updates: an EventSource on /events names the topics of what changed; when one of this
//   page's topics (<body data-topics>) arrives, the page is fetched again and every element
//   marked data-live is swapped in place. A controller restart drops the stream; the browser
//   reconnects by itself (retry: 2000) and the page refreshes once it is back.
// - Times: every <time datetime> is shown in the viewer's own time zone.
// - Keyboard: "/" focuses the first filter, "g" then o/j/n/r moves between sections.
'use strict';
(function () {
  const topics = (document.body.dataset.topics || '').split(' ').filter(Boolean);
  const status = document.getElementById('live-status');

  function setStatus(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  const timeFmt = new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  });
  function localTimes(root) {
    for (const t of root.querySelectorAll('time[datetime]')) {
      const d = new Date(t.getAttribute('datetime'));
      if (Number.isNaN(d.getTime())) continue;
      t.title = t.getAttribute('datetime');
      t.textContent = timeFmt.format(d);
    }
  }

  let inFlight = false;
  let again = false;
  let lastRefresh = 0;
  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    try {
      const wait = lastRefresh + 750 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      lastRefresh = Date.now();
      const res = await fetch(location.href, {
        headers: { 'X-LF-Live': '1' },
        credentials: 'same-origin',
        cache: 'no-store',
      });
      if (res.status === 401 || res.redirected) {
        location.assign('/login?expired=1&next=' + encodeURIComponent(location.pathname + location.search));
        return;
      }
      if (!res.ok) return;
      const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
      for (const el of document.querySelectorAll('[data-live][id]')) {
        const next = doc.getElementById(el.id);
        if (!next) continue;
        // Keep an open <details> and the focused control's place where possible.
        const focusedId =
          document.activeElement && el.contains(document.activeElement) ? document.activeElement.id : '';
        el.replaceWith(next);
        localTimes(next);
        if (focusedId) document.getElementById(focusedId)?.focus();
      }
      document.body.dataset.refreshed = String(Date.now());
    } catch {
      // The controller is away; the event stream reconnects and triggers another refresh.
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        void refresh();
      }
    }
  }

  function concerns(changed) {
    return changed.includes('*') || changed.some((t) => topics.includes(t));
  }

  let opened = false;
  function connect() {
    if (topics.length === 0 || !window.EventSource) return;
    const es = new EventSource('/events');
    es.addEventListener('hello', () => {
      setStatus('live', 'Live');
      // Back after a gap (first connection, or a controller restart): catch up.
      if (opened) void refresh();
      opened = true;
    });
    es.addEventListener('change', (ev) => {
      let changed;
      try {
        changed = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (concerns(changed)) void refresh();
    });
    es.addEventListener('expired', () => {
      es.close();
      location.assign('/login?expired=1&next=' + encodeURIComponent(location.pathname + location.search));
    });
    es.onerror = async () => {
      setStatus('down', 'Reconnecting…');
      if (es.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Closed for good (the server answered, but not with a stream): signed out, or away.
      try {
        const r = await fetch('/session', { credentials: 'same-origin', cache: 'no-store' });
        if (r.status === 401) {
          location.assign('/login?expired=1&next=' + encodeURIComponent(location.pathname + location.search));
          return;
        }
      } catch {
        /* still away */
      }
      setTimeout(connect, 3000);
    };
  }

  let g = false;
  document.addEventListener('keydown', (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    if (
      t &&
      (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)
    )
      return;
    if (e.key === '/') {
      const f = document.querySelector('[data-filter]');
      if (f) {
        e.preventDefault();
        f.focus();
        f.select();
      }
      return;
    }
    if (g) {
      g = false;
      const to = { o: '/', j: '/jobs', n: '/nodes', r: '/rollouts' }[e.key];
      if (to) {
        e.preventDefault();
        location.assign(to);
      }
      return;
    }
    if (e.key === 'g') g = true;
  });

  // A select in a filter form applies at once (the form still works without script).
  for (const s of document.querySelectorAll('form.filters select'))
    s.addEventListener('change', () => s.form.submit());

  localTimes(document);
  setStatus(topics.length ? 'connecting' : 'off', topics.length ? 'Connecting…' : '');
  connect();
})();
