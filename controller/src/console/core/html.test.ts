import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeHtml, html, join, trustedAsset } from './html.ts';

const evil = `<script>alert("x")</script><img src=x onerror='y'>\`&`;

test('interpolated text is escaped in bodies and quoted attributes', () => {
  const out = html`<p title="${evil}">${evil}</p>`.text;
  assert.ok(!out.includes('<script>'));
  assert.ok(!out.includes('<img'));
  assert.ok(!/title="[^"]*"[^>]*onerror/.test(out));
  assert.equal(out, `<p title="${escapeHtml(evil)}">${escapeHtml(evil)}</p>`);
  assert.match(out, /&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;/);
});

test('fragments nest without double escaping; lists and empties render', () => {
  const inner = html`<b>${'a<b'}</b>`;
  assert.equal(html`<i>${inner}</i>`.text, '<i><b>a&lt;b</b></i>');
  assert.equal(html`${['x', html`<br />`, 2]}`.text, 'x<br />2');
  assert.equal(html`${null}${undefined}${false}`.text, '');
  assert.equal(join(['<', '>'], html`, `).text, '&lt;, &gt;');
});

test('a plain object that looks like a fragment is escaped, not trusted', () => {
  const fake = { text: '<script>' } as unknown as string;
  assert.equal(html`${fake}`.text, '[object Object]');
});

test('asset paths are constants only', () => {
  assert.equal(trustedAsset('/assets/console.js').text, '/assets/console.js');
  assert.throws(() => trustedAsset('/assets/"><script>'));
});
