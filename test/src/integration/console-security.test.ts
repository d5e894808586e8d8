/**
 * The web console against bad input, with a real controller (in process, TLS, console on) over
 * a real nats-server, node identities that write what a hostile or buggy node could, and a
 * real browser where script execution matters: wrong and expired sessions, forged and
 * cross-site posts, a viewer posting by hand, HTML in hostnames, selector labels, job labels,
 * reasons and plist strings, and lists longer than any page.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { NodeIdentity } from '@launchfleet/node-agent/link';
import { jobStateReport } from '@launchfleet/shared/job';
import { type RunningController, startController } from '@launchfleet/controller';
import { ControllerFleet } from '../support/controller-fleet.ts';
import { ConsoleClient } from '../support/console-client.ts';
import { openBrowser } from '../support/browser.ts';
import { freePort } from '../support/nats-server.ts';
import { eventually } from '../support/eventually.ts';

const evilHost = `<img src=x onerror="document.title='pwned-host'">`;
const evilLabelKey = `<script>document.title='pwned-key'</script>`;
const evilLabelValue = `"><svg onload="document.title='pwned-value'">`;
const evilJob = `com.evil.<img src=x onerror="document.title='pwned-job'">`;
const evilReason = `<b onmouseover=x>r</b>`;
const evilWhy = `<i onmouseover=y>EIO</i>`;
const plistLabel = 'com.example.quoted';
const evilPlist = `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <!-- </textarea><img src=x onerror="document.title='pwned-plist'"> -->
  <key>Label</key><string>${plistLabel}</string>
  <key>ProgramArguments</key><array><string>/bin/echo</string><string>&lt;script&gt;document.title='pwned-arg'&lt;/script&gt;</string></array>
  <key>KeepAlive</key><true/>
</dict></plist>
`;
const bigJob = 'com.example.everywhere';
const fleetSize = 260;
const sessionMs = 4000;

describe(
  'console: bad input gets clear errors, nothing injected, nothing changed',
  { timeout: 240_000 },
  () => {
    let fleet: ControllerFleet;
    let c: RunningController;
    let base = '';
    let ca: Buffer;
    const nodes: NodeIdentity[] = [];
    const client = () => new ConsoleClient(base, ca);

    before(async () => {
      fleet = await ControllerFleet.start({ tls: true });
      const port = await freePort();
      const { cfg } = await fleet.config({ consoleListen: `127.0.0.1:${port}` });
      c = await startController(cfg, { name: 'ctl-console', log: () => undefined, console: { sessionMs } });
      base = `https://127.0.0.1:${c.consolePort}`;
      ca = await readFile(fleet.tls?.caCert ?? '');
      // In small batches: the enrolling clients, the controller and the nodes share this test's one
      // thread, and many NATS handshakes at once miss the server's auth timeout on a busy 2-core machine.
      for (let i = 0; i < fleetSize; i += 5)
        nodes.push(
          ...(await fleet.enrollNodes(c, Math.min(5, fleetSize - i), (j) => ({
            site: (i + j) % 2 ? 'ams' : 'ber',
          }))),
        );
      const [evil] = nodes;
      if (!evil) throw new Error('no node');
      await fleet.putInventory(evil, { hostname: evilHost, labels: { [evilLabelKey]: evilLabelValue } });
      await fleet.putStatus(evil, {
        health: 'failing',
        jobs: {
          [evilJob]: jobStateReport('spawn-scheduled', 'exit-code'),
          [bigJob]: jobStateReport('running', 'success'),
        },
        versions: { [evilJob]: '<i>1</i>', [bigJob]: '1' },
        details: {
          [evilJob]: { domain: 'system', crashLooping: true, successiveCrashes: 9, reason: evilReason },
        },
        retrying: [
          {
            domain: 'system',
            label: evilJob,
            failures: 3,
            why: evilWhy,
            nextAttemptAt: Date.now() + 600_000,
          },
        ],
      });
      for (const n of nodes.slice(1))
        await fleet.putStatus(n, {
          health: 'ok',
          jobs: { [bigJob]: jobStateReport('running', 'success') },
          versions: { [bigJob]: '1' },
        });
      await c.app.desired.apply({
        plist: evilPlist,
        domain: 'system',
        target: { kind: 'nodes', names: [evil.nodeId] },
        validityMs: 3600_000,
        by: 'test',
      });
      await eventually(async () => {
        if (c.aggregator.index.jobHealth(bigJob, Date.now(), 0).reporting < fleetSize)
          throw new Error('statuses not in yet');
        return Promise.resolve();
      }, 30_000);
    });

    after(async () => {
      await c?.stop();
      await fleet?.close();
    });

    test('wrong, malformed and missing tokens are refused with a clear message and no session', async () => {
      for (const token of ['lfat_' + 'A'.repeat(43), 'not-a-token', '', `${fleet.tokens.admin}x`]) {
        const k = client();
        const r = await k.signIn(token);
        assert.equal(r.status, 401, token);
        assert.match(r.body, /not known to this controller/);
        assert.equal(r.headers['set-cookie'], undefined);
      }
      const k = client();
      assert.equal((await k.get('/')).status, 303, 'no session: sent to sign in');
      assert.equal((await k.get('/events')).status, 401);
      k.cookie = `__Host-lf_session=${'B'.repeat(43)}`;
      const r = await k.get('/nodes');
      assert.equal(r.status, 303);
      assert.match(String(r.headers['location']), /^\/login\?next=%2Fnodes&expired=1$/);
      const audit = await c.app.audit.list(50, 'ConsoleSignIn');
      assert.ok(audit.some((e) => e.outcome === 'UNAUTHENTICATED' && e.who === 'anonymous'));
    });

    test('the session cookie is HttpOnly, Secure and SameSite; it expires and signs out on the server', async () => {
      const k = client();
      const r = await k.signIn(fleet.tokens.viewer);
      assert.equal(r.status, 303);
      const set = String(r.headers['set-cookie']);
      for (const flag of ['HttpOnly', 'Secure', 'SameSite=Strict', '__Host-lf_session='])
        assert.ok(set.includes(flag), flag);
      assert.equal((await k.get('/')).status, 200);
      // Sign-out deletes the session on the server: the old cookie is worthless afterwards.
      const out = await k.send('POST', '/logout', { headers: k.sameOrigin, form: { _csrf: await k.csrf() } });
      assert.equal(out.status, 303);
      assert.equal((await k.get('/')).status, 303);
      // Expiry: a fresh session works, and stops working after sessionMs, whatever the cookie says.
      const k2 = client();
      await k2.signIn(fleet.tokens.viewer);
      assert.equal((await k2.get('/nodes')).status, 200);
      await new Promise((res) => setTimeout(res, sessionMs + 200));
      const late = await k2.get('/nodes');
      assert.equal(late.status, 303);
      assert.match(String(late.headers['location']), /expired=1/);
      assert.equal((await k2.get('/session')).status, 401);
    });

    test('forged and cross-site posts are refused before anything happens', async () => {
      const k = client();
      await k.signIn(fleet.tokens.operator);
      const csrf = await k.csrf();
      const form = { _csrf: csrf, label: plistLabel, plist: evilPlist, targetKind: 'all' };
      const cases: [string, Record<string, string>, Record<string, string>, RegExp][] = [
        ['no Origin', {}, form, /no Origin/],
        ['another origin', { origin: 'https://evil.example' }, form, /cross-origin request refused/],
        ['plain http origin', { origin: base.replace('https', 'http') }, form, /cross-origin/],
        [
          'cross-site fetch',
          { origin: base, 'sec-fetch-site': 'cross-site' },
          form,
          /cross-site request refused/,
        ],
        ['no CSRF token', k.sameOrigin, { ...form, _csrf: '' }, /CSRF token mismatch/],
        [
          'a wrong CSRF token',
          k.sameOrigin,
          { ...form, _csrf: csrf.replace(/^./, (x) => (x === 'a' ? 'b' : 'a')) },
          /CSRF/,
        ],
      ];
      for (const [what, headers, f, why] of cases) {
        const r = await k.send('POST', '/rollouts', { headers, form: f });
        assert.equal(r.status, 403, what);
        assert.match(r.body, why, what);
      }
      // A sign-in form posted from another site is refused too (login CSRF).
      const x = await client().send('POST', '/login', {
        headers: { origin: 'https://evil.example' },
        form: { token: fleet.tokens.admin },
      });
      assert.equal(x.status, 403);
      // Nothing was started, and none of it reached the API (no StartRollout audit entry).
      assert.equal(c.rollouts.store !== undefined && (await c.rollouts.store.ids()).length, 0);
      assert.equal((await c.app.audit.list(50, 'StartRollout')).length, 0);
      // Not a form at all, and a body past the limit.
      const json = await k.send('POST', '/rollouts', {
        headers: { ...k.sameOrigin, 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(json.status, 415);
      const huge = await k.send('POST', '/rollouts', {
        headers: k.sameOrigin,
        form: { _csrf: csrf, plist: 'x'.repeat(600 * 1024) },
      });
      assert.equal(huge.status, 413);
    });

    test('a viewer posting by hand with a valid session and CSRF token is refused by the role check, and audited', async () => {
      const k = client();
      await k.signIn(fleet.tokens.viewer);
      const r = await k.send('POST', '/rollouts', {
        headers: k.sameOrigin,
        form: { _csrf: await k.csrf(), label: plistLabel, plist: evilPlist, targetKind: 'all' },
      });
      assert.equal(r.status, 403);
      assert.match(r.body, /StartRollout needs the operator role; token vera has viewer/);
      const cmd = await k.send('POST', '/rollouts/ro-x/abort', {
        headers: k.sameOrigin,
        form: { _csrf: await k.csrf() },
      });
      assert.equal(cmd.status, 403);
      assert.equal((await c.rollouts.store.ids()).length, 0);
      const audit = await c.app.audit.list(50);
      assert.ok(
        audit.some(
          (e) => e.method === 'StartRollout' && e.who === 'vera' && e.outcome === 'PERMISSION_DENIED',
        ),
      );
      assert.ok(
        audit.some(
          (e) => e.method === 'AbortRollout' && e.who === 'vera' && e.outcome === 'PERMISSION_DENIED',
        ),
      );
    });

    test('an operator with bad form values gets a clear 400 and nothing starts', async () => {
      const k = client();
      await k.signIn(fleet.tokens.operator);
      const csrf = await k.csrf();
      const bad: [Record<string, string>, RegExp][] = [
        [{ plist: '' }, /paste the job plist/],
        [{ plist: evilPlist, canary: '-1' }, /canary: a whole number/],
        [{ plist: evilPlist, waves: '50,abc' }, /waves: percentages/],
        [{ plist: '<plist>not a job</plist>', targetKind: 'all' }, /./],
        [{ plist: evilPlist, targetKind: 'selector', target: 'site in (' }, /selector/i],
      ];
      for (const [f, why] of bad) {
        const r = await k.send('POST', '/rollouts', {
          headers: k.sameOrigin,
          form: { _csrf: csrf, label: plistLabel, ...f },
        });
        assert.equal(r.status, 400, JSON.stringify(f));
        assert.match(r.body, why);
      }
      assert.equal((await c.rollouts.store.ids()).length, 0);
    });

    test('HTML in hostnames, labels, job labels, reasons and plist strings is shown as text on every page', async () => {
      const k = client();
      await k.signIn(fleet.tokens.operator);
      const [evil] = nodes;
      const pages = [
        '/',
        '/jobs',
        '/jobs?problem=any',
        `/jobs/${encodeURIComponent(evilJob)}`,
        `/jobs/${encodeURIComponent(plistLabel)}`,
        `/nodes?q=${encodeURIComponent('<img')}`,
        `/nodes/${evil?.nodeId ?? ''}`,
        `/nodes?sel=${encodeURIComponent('site in (')}`,
      ];
      const raw = [
        evilHost,
        evilLabelKey,
        evilLabelValue,
        evilJob,
        evilReason,
        evilWhy,
        '</textarea><img',
        '<script>document',
      ];
      for (const p of pages) {
        const r = await k.get(p);
        assert.equal(r.status, 200, p);
        for (const s of raw) assert.ok(!r.body.includes(s), `${p} contains ${s}`);
      }
      const quoted = await k.get(`/jobs/${encodeURIComponent(plistLabel)}`);
      assert.ok(
        quoted.body.includes('id="plist"'),
        quoted.body.slice(quoted.body.indexOf('<main'), quoted.body.indexOf('<main') + 3000),
      );
      const node = await k.get(`/nodes/${evil?.nodeId ?? ''}`);
      assert.ok(
        node.body.includes('&lt;img src=x onerror=&quot;document.title=&#39;pwned-host&#39;&quot;&gt;'),
      );
      assert.equal(r404(await k.get(`/nodes/${encodeURIComponent('../../etc')}`)), 404);
      assert.equal(r404(await k.get(`/jobs/${encodeURIComponent('<no such job>')}`)), 404);
      // And in a real browser nothing runs: the title stays, no injected element exists.
      const b = await openBrowser(fleet.tls?.cert ?? '');
      try {
        const { page } = b;
        let dialogs = 0;
        page.on('dialog', (d) => {
          dialogs++;
          void d.dismiss();
        });
        // Sessions here last 4 s (for the expiry test).
        // Each page on a fresh session (sign-in sends the browser on to it), checked at once: an
        // expiring session would send the open page to the sign-in form under the test's feet.
        const visit = async (p: string) => {
          await b.context.clearCookies();
          await page.goto(`${base}${p}`);
          await page.fill('#token', fleet.tokens.operator);
          await Promise.all([
            page.waitForURL((u) => u.pathname !== '/login'),
            page.click('button[type=submit]'),
          ]);
        };
        for (const p of pages) {
          await visit(p);
          assert.doesNotMatch(await page.title(), /^pwned/, p);
          assert.equal(
            await page.locator('img[src="x"], svg[onload], b[onmouseover], i[onmouseover]').count(),
            0,
            p,
          );
        }
        await visit(`/jobs/${encodeURIComponent(plistLabel)}`);
        // The plist arrives in the rollout form exactly as stored, comment and all.
        const value = await page.$eval('#plist', (el) => (el as unknown as { value: string }).value);
        assert.equal(value, evilPlist);
        assert.equal(dialogs, 0);
      } finally {
        await b.close();
      }
    });

    test('the node page lists the jobs the node is retrying, with why as text', async () => {
      const k = client();
      await k.signIn(fleet.tokens.viewer);
      const [evil] = nodes;
      const r = await k.get(`/nodes/${evil?.nodeId ?? ''}`);
      assert.equal(r.status, 200);
      const at = r.body.indexOf('id="node-retrying"');
      assert.ok(at > 0, 'a retrying table');
      const table = r.body.slice(at, r.body.indexOf('</table>', at));
      const cells = [...table.matchAll(/<t[hd](?:\s[^>]*)?>([\s\S]*?)<\/t[hd]>/g)].map((m) =>
        m[1]?.replace(/\s+/g, ' ').trim(),
      );
      assert.deepEqual(cells.slice(0, 5), ['Label', 'Domain', 'Failures in a row', 'Next attempt', 'Why']);
      assert.match(cells[5] ?? '', /&lt;img src=x onerror=/, 'the job label, escaped');
      assert.equal(cells[6], 'system');
      assert.equal(cells[7], '3');
      assert.match(cells[8] ?? '', /^in \d+ min <span/);
      assert.equal(cells[9], '&lt;i onmouseover=y&gt;EIO&lt;/i&gt;');
      // A node that retries nothing has no such table.
      const calm = await k.get(`/nodes/${nodes[1]?.nodeId ?? ''}`);
      assert.equal(calm.status, 200);
      assert.ok(!calm.body.includes('node-retrying'));
    });

    test('lists longer than a page are paged on the server', async () => {
      const k = client();
      await k.signIn(fleet.tokens.viewer);
      const rows = (body: string, table: string) => {
        const t = body.slice(body.indexOf(`id="${table}"`));
        const tbody = t.slice(t.indexOf('<tbody>'), t.indexOf('</tbody>'));
        return (tbody.match(/<tr>/g) ?? []).length;
      };
      const first = await k.get('/nodes');
      assert.equal(rows(first.body, 'nodes'), 50);
      assert.match(first.body, /1–50 of 260/);
      assert.equal(rows((await k.get('/nodes?size=200&page=2')).body, 'nodes'), 60);
      assert.equal(rows((await k.get('/nodes?size=100000&page=-3')).body, 'nodes'), 50);
      assert.match((await k.get('/nodes?page=999')).body, /251–260 of 260/);
      const job = await k.get(`/jobs/${bigJob}?size=100`);
      assert.equal(rows(job.body, 'job-nodes'), 100);
      assert.match(job.body, /1–100 of 260/);
      assert.match((await k.get(`/jobs/${bigJob}?sel=site%3Dams`)).body, /of 130</);
    });
  },
);

function r404(r: { status: number }): number {
  return r.status;
}
