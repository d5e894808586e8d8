/**
 * The web console end to end, every part real: nats-server, the controller and three agents
 * as processes (support/local-fleet.ts), and Debian's chromium driven by playwright-core
 * (support/browser.ts). What an admin would do: sign in (a wrong token is refused), see a
 * crash-looping job appear on the overview with its node while the page is open, open the
 * job, start and abort a rollout as an operator, be refused as a viewer (no buttons, and a
 * hand-made POST with a valid session and CSRF token still gets 403), see an agent that
 * stopped appear as offline, and keep getting live updates across a controller restart.
 * Screenshots of each page go to a temp folder, or with LF_CONSOLE_SCREENSHOTS=docs to docs/console/ (the
 * README's pictures).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { type LocalFleet, startLocalFleet } from '../support/local-fleet.ts';
import { type BrowserSession, openBrowser } from '../support/browser.ts';
import { repoRoot } from '../support/paths.ts';

const shots =
  process.env['LF_CONSOLE_SCREENSHOTS'] === 'docs'
    ? join(repoRoot, 'docs', 'console')
    : join(tmpdir(), 'lf-console-screenshots');

const crashy = 'com.example.crashy';
const steady = 'com.example.steady';
const plist = (label: string, script: string) => `<?xml version="1.0" encoding="UTF-8"?>
<plist version="1.0"><dict>
  <key>Label</key><string>${label}</string>
  <key>ProgramArguments</key><array><string>/bin/sh</string><string>-c</string><string>${script}</string></array>
  <key>KeepAlive</key><true/>
  <key>ThrottleInterval</key><integer>1</integer>
</dict></plist>
`;

async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.waitForURL(/\/login/);
  await page.fill('#token', token);
  await Promise.all([
    page.waitForURL((u) => !u.pathname.startsWith('/login')),
    page.click('button[type=submit]'),
  ]);
}

async function shot(page: Page, name: string): Promise<void> {
  await mkdir(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

describe('web console in a real browser against a real fleet', { timeout: 300_000 }, () => {
  let fleet: LocalFleet;
  let op: BrowserSession;
  let viewer: BrowserSession | undefined;
  let base = '';

  before(async () => {
    fleet = await startLocalFleet({
      // Agents beat every 10-12 s: offline after 25 s without a report.
      offlineAfterSeconds: 25,
      apiTokens: [
        { name: 'otto', role: 'operator' },
        { name: 'vera', role: 'viewer' },
      ],
      extraAgents: [
        { name: 'mac-2', labels: { site: 'ams' } },
        { name: 'mac-3', labels: { site: 'ams' } },
      ],
    });
    base = fleet.consoleUrl;
    op = await openBrowser(join(fleet.dir, 'tls', 'server.crt'));
  });

  after(async () => {
    await viewer?.close();
    await op?.close();
    if (fleet) await fleet.stop();
  });

  test('a wrong token is refused with a clear message, a right one signs in', async () => {
    const { page } = op;
    await page.goto(`${base}/jobs`);
    await page.waitForURL(/\/login\?next=%2Fjobs/);
    await shot(page, 'login');
    await page.fill('#token', 'lfat_' + 'x'.repeat(43));
    await page.click('button[type=submit]');
    assert.match((await page.textContent('#login-error')) ?? '', /not known to this controller/);
    await page.fill('#token', fleet.apiTokens['otto'] ?? '');
    await Promise.all([page.waitForURL(/\/jobs$/), page.click('button[type=submit]')]);
    assert.match((await page.textContent('.who')) ?? '', /otto · operator/);
  });

  test('a crash-looping job appears on the open overview with its node, and its page shows it', async () => {
    const { page } = op;
    await page.goto(`${base}/`);
    await page.waitForSelector('#live-status[data-state="live"]');
    assert.equal(await page.locator('#trouble').count(), 0, 'nothing in trouble before the job is applied');
    const file = join(fleet.dir, 'crashy.plist');
    await writeFile(file, plist(crashy, 'echo boom; exit 3'));
    const r = await fleet.cli(['jobs', 'apply', file, '--nodes', fleet.nodeId]);
    assert.equal(r.code, 0, r.stderr);
    // No reload: the live feed refreshes the overview.
    const row = page.locator('#trouble tr', { hasText: crashy });
    await row.waitFor({ timeout: 60_000 });
    await page.locator(`#trouble a[href="/nodes/${fleet.nodeId}"]`).waitFor({ timeout: 30_000 });
    assert.match((await row.textContent()) ?? '', /1 node/);
    await shot(page, 'overview');
    await Promise.all([
      page.waitForURL(new RegExp(`/jobs/${crashy}`)),
      row.locator(`a[href^="/jobs/${crashy}"]`).click(),
    ]);
    // Throttled first, crash-looping after a few runs: the open job page follows without a reload.
    const nodeRow = page.locator('#job-nodes tbody tr', { hasText: fleet.nodeId });
    await page.locator('#job-nodes tbody tr', { hasText: 'crash-looping' }).waitFor({ timeout: 60_000 });
    assert.match((await nodeRow.textContent()) ?? '', /crash-looping/);
    await shot(page, 'job');
  });

  let rolloutId = '';

  test('an operator starts a rollout from the job page and aborts it', async () => {
    const { page } = op;
    const file = join(fleet.dir, 'steady.plist');
    await writeFile(file, plist(steady, 'exec sleep 600'));
    const nodes = [fleet.nodeId, ...Object.values(fleet.extraNodeIds)].join(',');
    assert.equal((await fleet.cli(['jobs', 'apply', file, '--nodes', nodes])).code, 0);
    await page.goto(`${base}/jobs/${steady}`);
    await page.locator('#job-nodes tbody tr', { hasText: 'running' }).first().waitFor({ timeout: 60_000 });
    await page.click('#start-rollout summary');
    await page.fill('#plist', plist(steady, 'exec sleep 601'));
    // A gate that cannot pass for minutes: the rollout stays in its canary step until aborted.
    await page.fill('input[name=minHealthySeconds]', '600');
    await page.fill('input[name=progressDeadlineSeconds]', '1200');
    await Promise.all([
      page.waitForURL(/\/rollouts\/[^/?]+\?did=started/),
      page.click('#start-rollout button[type=submit]'),
    ]);
    rolloutId = decodeURIComponent(new URL(page.url()).pathname.split('/')[2] ?? '');
    assert.ok(rolloutId);
    await page.locator('h1 .badge', { hasText: /canary|pending/ }).waitFor({ timeout: 30_000 });
    await page.locator('#steps tbody tr.current').waitFor({ timeout: 30_000 });
    await shot(page, 'rollout');
    const reason = page.locator('form[action$="/abort"] input[name=reason]');
    await reason.fill('console test');
    // Another operator pauses it while this one types: the page refreshes by itself, and what
    // was typed (the reason, the focus) stays.
    assert.equal((await fleet.cli(['rollout', 'pause', rolloutId, '--reason', 'from the CLI'])).code, 0);
    await page.locator('h1 .badge', { hasText: 'paused' }).waitFor({ timeout: 30_000 });
    assert.equal(await reason.inputValue(), 'console test');
    type Doc = { document: { activeElement: { getAttribute(n: string): string | null } | null } };
    const focused = await page.evaluate(() =>
      (globalThis as unknown as Doc).document.activeElement?.getAttribute('aria-label'),
    );
    assert.equal(focused, 'Reason to abort');
    await Promise.all([page.waitForURL(/did=abort/), page.click('#btn-abort')]);
    await page.locator('h1 .badge', { hasText: 'aborted' }).waitFor({ timeout: 30_000 });
    assert.match((await page.textContent('.why')) ?? '', /console test/);
    await page.goto(`${base}/rollouts`);
    await page.locator('#rollout-list tr', { hasText: rolloutId }).waitFor();
    await shot(page, 'rollouts');
  });

  test('a viewer sees no buttons, and a forged POST with a valid session is refused by the server', async () => {
    viewer = await openBrowser(join(fleet.dir, 'tls', 'server.crt'));
    const { page } = viewer;
    await signIn(page, base, fleet.apiTokens['vera'] ?? '');
    await page.goto(`${base}/rollouts/${rolloutId}`);
    await page.locator('h1', { hasText: rolloutId }).waitFor();
    assert.equal(await page.locator('form[method=post][action^="/rollouts/"]').count(), 0);
    assert.match((await page.textContent('main')) ?? '', /Viewers cannot change rollouts/);
    await page.goto(`${base}/jobs/${steady}`);
    assert.equal(await page.locator('#start-rollout').count(), 0);
    const csrf = await page.getAttribute('form[action="/logout"] input[name=_csrf]', 'value');
    // A hand-made POST from the signed-in page itself: same origin, valid session and CSRF token.
    const post = (path: string, body: string) =>
      page.evaluate(
        async ([p, b]) => {
          const r = await fetch(p ?? '', {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: b ?? '',
            redirect: 'manual',
          });
          return { status: r.status, text: await r.text() };
        },
        [path, body],
      );
    const res = await post(
      `/rollouts/${rolloutId}/rollback`,
      `_csrf=${encodeURIComponent(csrf ?? '')}&reason=sneaky`,
    );
    assert.equal(res.status, 403);
    assert.match(res.text, /RollbackRollout needs the operator role; token vera has viewer/);
    const start = await post(
      '/rollouts',
      `_csrf=${encodeURIComponent(csrf ?? '')}&label=${steady}&plist=x&targetKind=all`,
    );
    assert.equal(start.status, 403);
    // The refusals are in the audit stream, like refused gRPC calls.
    const audit = await fleet.cli(['audit', '--json']);
    assert.match(
      audit.stdout,
      /"who":\s*"vera"[^}]*"method":\s*"RollbackRollout"[^}]*"outcome":\s*"PERMISSION_DENIED"/s,
    );
  });

  test('an agent that stops shows as offline on the open overview; nodes pages show it', async () => {
    const { page } = op;
    await page.goto(`${base}/`);
    await page.waitForSelector('#live-status[data-state="live"]');
    const id = fleet.extraNodeIds['mac-2'] ?? '';
    await fleet.killAgent('mac-2');
    await page.locator('#offline tr', { hasText: id }).waitFor({ timeout: 60_000 });
    await shot(page, 'overview-offline');
    await page.goto(`${base}/nodes?presence=offline`);
    await page.locator('#nodes tr', { hasText: id }).waitFor();
    await page.goto(`${base}/nodes`);
    await shot(page, 'nodes');
    await page.goto(`${base}/nodes/${fleet.nodeId}`);
    await page.locator('#node-jobs tr', { hasText: crashy }).waitFor();
    await shot(page, 'node');
  });

  test('live updates continue after a controller restart', async () => {
    const { page } = op;
    await page.goto(`${base}/`);
    await page.waitForSelector('#live-status[data-state="live"]');
    const id = fleet.extraNodeIds['mac-2'] ?? '';
    await page.locator('#offline tr', { hasText: id }).waitFor();
    await fleet.restartController();
    await page.waitForSelector('#live-status[data-state="live"]', { timeout: 30_000 });
    await fleet.restartAgent('mac-2');
    // The node comes back: it leaves the offline table, without a reload and with the old session.
    await page.locator('#offline tr', { hasText: id }).waitFor({ state: 'detached', timeout: 60_000 });
    assert.match(page.url(), /\/$/);
  });
});
