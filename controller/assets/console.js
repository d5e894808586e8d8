// Launchfleet web console: the only script the pages load (no framework, no build step).
// - Live updates: an EventSource on /events names the topics of what changed; when one of this
//   page's topics (<body data-topics>) arrives, the page is fetched again and every element
//   marked data-live is swapped in place, keeping what the operator typed or opened in it. A
//   controller restart drops the stream; the browser reconnects by itself (retry: 2000) and
//   the page refreshes once it is back.
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

  // A control is known across a refresh by its form's action and its id or name (the reason
  // inputs of the rollout actions have no id: one form per action).
  function controlKey(c) {
    const action = c.form ? c.form.getAttribute('action') || '' : '';
    const radio = c.type === 'radio' ? '=' + c.value : '';
    return action + '|' + (c.id || c.name || '') + radio;
  }
  function edited(c) {
    if (c.type === 'hidden' || c.type === 'submit' || c.type === 'button') return false;
    if (c.type === 'checkbox' || c.type === 'radio') return c.checked !== c.defaultChecked;
    if (c.tagName === 'SELECT') return Array.from(c.options).some((o) => o.selected !== o.defaultSelected);
    return c.value !== c.defaultValue;
  }
  // What the operator is doing inside a live region survives its refresh: text typed but not
  // yet sent (an abort reason, a plist), open <details>, and the focused control with its caret.
  // Returns what puts it back into the region that replaces `el`.
  function keepInput(el) {
    const values = new Map();
    for (const c of el.querySelectorAll('input, textarea, select'))
      if ((c.id || c.name) && edited(c)) values.set(controlKey(c), c);
    const open = new Map();
    for (const d of el.querySelectorAll('details[id]')) open.set(d.id, d.open);
    const active = document.activeElement;
    const focus = active && el.contains(active) && (active.id || active.name) ? controlKey(active) : '';
    const caret =
      focus && typeof active.selectionStart === 'number'
        ? [active.selectionStart, active.selectionEnd]
        : null;
    return (next) => {
      for (const d of next.querySelectorAll('details[id]')) if (open.has(d.id)) d.open = open.get(d.id);
      for (const c of next.querySelectorAll('input, textarea, select')) {
        const key = controlKey(c);
        const was = values.get(key);
        if (was) {
          if (c.type === 'checkbox' || c.type === 'radio') c.checked = was.checked;
          else if (c.tagName === 'SELECT')
            for (const o of c.options)
              o.selected = Array.from(was.selectedOptions).some((w) => w.value === o.value);
          else c.value = was.value;
        }
        if (focus && key === focus) {
          c.focus();
          if (caret) {
            try {
              c.setSelectionRange(caret[0], caret[1]);
            } catch {
              // not a text control
            }
          }
        }
      }
    };
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
        const kept = keepInput(el);
        el.replaceWith(next);
        kept(next);
        localTimes(next);
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
