#!/usr/bin/env node
// The controller can run as configured: every path its config names (the config file itself,
// keyStoreDir, apiTokensFile, the TLS pair) is provided by a mount of the compose services /
// the Kubernetes Deployment, and the key store arrives in the form KeyStore accepts (a private
// directory the controller only reads). deploy/check.sh runs both subcommands; each prints one
// line per check ("ok", "FAIL" or "skip") and exits 1 on a failure.
//
//   check-mounts.mjs compose   compose.yml against compose/controller.json; the NATS servers'
//                              auth include mounted where nats.conf includes it, and the one-shot
//                              that writes it run for real (nats-server -t on the result)
//   check-mounts.mjs k8s       controller-deployment.yaml against controller-configmap.yaml, and
//                              the init container's copy script run for real on a fresh key store;
//                              nats-values.yaml's auth include Secret, mount and $include, and the
//                              documented `nats-auth` command's output through nats-server -t
//
// The configs go through the controller's own parser (controller/dist), which resolves paths.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';

const deploy = resolve(dirname(new URL(import.meta.url).pathname), '..');
const repo = resolve(deploy, '..');
let failed = false;

function report(name, problems, detail = '') {
  if (problems.length === 0) console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  else {
    failed = true;
    console.log(`FAIL ${name}: ${problems.join('; ')}`);
  }
}
const skip = (name, why) => console.log(`skip ${name}: ${why}`);
const read = (p) => readFileSync(p, 'utf8');

/** The controller's config parser, or undefined when the controller is not built. */
async function configParser() {
  const compiled = join(repo, 'controller/dist/config/controller-config.js');
  if (!existsSync(compiled)) return undefined;
  return (await import(pathToFileURL(compiled).href)).parseControllerConfig;
}

/** The mount (longest target) that holds `path`, or undefined. */
function mountOf(path, mounts) {
  let best;
  for (const m of mounts)
    if (path === m.target || path.startsWith(m.target.endsWith('/') ? m.target : `${m.target}/`))
      if (!best || m.target.length > best.target.length) best = m;
  return best;
}

/** The paths the controller opens, by config field. */
function configPaths(cfg, configFile) {
  return {
    '--config': configFile,
    keyStoreDir: cfg.keyStoreDir,
    apiTokensFile: cfg.apiTokensFile,
    ...(cfg.tls ? { 'tls.certFile': cfg.tls.certFile, 'tls.keyFile': cfg.tls.keyFile } : {}),
  };
}

const configArg = (args) => {
  const i = (args ?? []).indexOf('--config');
  return i >= 0 ? args[i + 1] : undefined;
};

// ---------------------------------------------------------------- compose
/** ${VAR:-default} with every variable unset, as check-deploy.mjs reads the file. */
function interpolate(v) {
  if (typeof v === 'string')
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_, _n, op, arg) =>
      op === ':-' || op === '-' ? arg : '',
    );
  if (Array.isArray(v)) return v.map(interpolate);
  if (v && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]));
  return v;
}

function composeMounts(svc) {
  const out = [];
  for (const v of svc.volumes ?? []) {
    const [source, target, mode] =
      typeof v === 'string' ? v.split(':') : [v.source, v.target, v.read_only ? 'ro' : ''];
    out.push({
      kind: source.startsWith('.') || source.startsWith('/') ? 'bind' : 'volume',
      source,
      target,
      readOnly: mode === 'ro',
    });
  }
  for (const s of svc.secrets ?? []) {
    const name = s.source ?? s;
    out.push({
      kind: 'secret',
      source: name,
      target: s.target?.startsWith('/') ? s.target : `/run/secrets/${s.target ?? name}`,
      readOnly: true,
    });
  }
  return out;
}

async function checkCompose() {
  const name = 'compose: every controller mounts its config, key store, API tokens and TLS pair';
  const parse = await configParser();
  if (!parse) return skip(name, 'controller not built (controller/dist missing)');
  const file = join(deploy, 'compose/compose.yml');
  const doc = interpolate(parseYaml(read(file), { merge: true }));
  const services = doc.services ?? {};
  const problems = [];
  const controllers = Object.entries(services).filter(([n]) => /^controller-\d+$/.test(n));
  if (controllers.length === 0) problems.push('no controller-N services');
  for (const [n, svc] of controllers) {
    const configFile = configArg(svc.command);
    if (!configFile) {
      problems.push(`${n}: no --config in its command`);
      continue;
    }
    const mounts = composeMounts(svc);
    const cm = mounts.find((m) => m.target === configFile && m.kind === 'bind');
    if (!cm) {
      problems.push(`${n}: ${configFile} is not bind-mounted`);
      continue;
    }
    let cfg;
    try {
      cfg = parse(read(resolve(dirname(file), cm.source)), configFile);
    } catch (e) {
      problems.push(`${n}: ${cm.source}: ${e.message}`);
      continue;
    }
    for (const [field, path] of Object.entries(configPaths(cfg, configFile))) {
      const m = mountOf(path, mounts);
      if (!m) problems.push(`${n}: ${field} ${path} is on no mount`);
      else if (field !== 'keyStoreDir' && m.kind === 'secret' && m.target !== path)
        problems.push(`${n}: ${field} ${path} is inside the secret file ${m.target}`);
      else if (m.kind === 'secret' && !doc.secrets?.[m.source])
        problems.push(`${n}: secret ${m.source} undeclared`);
    }
    // The key store: a named volume (a secret is one file), read-only, filled by a one-shot
    // service that runs first, mounts the same volume at the same path and opens the store.
    const ks = mountOf(cfg.keyStoreDir, mounts);
    if (ks && ks.kind !== 'volume')
      problems.push(`${n}: keyStoreDir must be a named volume, not a ${ks.kind}`);
    if (ks?.kind === 'volume') {
      if (!ks.readOnly) problems.push(`${n}: the key store volume should be read-only for the controller`);
      const init = Object.entries(svc.depends_on ?? {}).find(
        ([dep, how]) =>
          how?.condition === 'service_completed_successfully' &&
          composeMounts(services[dep] ?? {}).some(
            (m) => m.source === ks.source && m.target === ks.target && !m.readOnly,
          ),
      );
      if (!init) problems.push(`${n}: no one-shot service fills volume ${ks.source} before it starts`);
      else {
        const cmd = [].concat(services[init[0]].command ?? []).join(' ');
        if (!/launchfleet-controller\.js nats-auth\b/.test(cmd) || !/--create\b/.test(cmd))
          problems.push(`${init[0]}: does not run \`launchfleet-controller nats-auth --create\``);
        if (!cmd.includes(`--keys ${cfg.keyStoreDir}`))
          problems.push(`${init[0]}: does not open the key store at ${cfg.keyStoreDir}`);
        if (!/chown -R node:node/.test(cmd))
          problems.push(`${init[0]}: does not give the store to the node user`);
        const binPath = /\/app\/(\S+launchfleet-controller\.js)/.exec(cmd)?.[1];
        if (!binPath || !existsSync(join(repo, binPath)))
          problems.push(`${init[0]}: runs ${binPath}, which the image does not have`);
      }
    }
  }
  report(name, problems, `${controllers.length} controllers`);
}

// ---------------------------------------------------------------- Kubernetes
function k8sDocs() {
  const out = [];
  const dir = join(deploy, 'k8s');
  for (const f of readdirSync(dir).filter((x) => /\.ya?ml$/.test(x)))
    for (const d of parseAllDocuments(read(join(dir, f)))) {
      const o = d.toJS();
      if (o?.kind) out.push(o);
    }
  return out;
}

function podMounts(container, volumes) {
  return (container.volumeMounts ?? []).map((m) => ({
    target: m.mountPath,
    readOnly: m.readOnly === true,
    volume: volumes.get(m.name),
    name: m.name,
  }));
}

async function checkK8s() {
  const name = 'k8s: the controller Deployment mounts its config, key store, API tokens and TLS pair';
  const parse = await configParser();
  if (!parse) return skip(name, 'controller not built (controller/dist missing)');
  const docs = k8sDocs();
  const deployment = docs.find(
    (d) => d.kind === 'Deployment' && d.metadata?.name === 'launchfleet-controller',
  );
  const problems = [];
  if (!deployment) return report(name, ['no Deployment launchfleet-controller']);
  const pod = deployment.spec.template.spec;
  const volumes = new Map((pod.volumes ?? []).map((v) => [v.name, v]));
  const ctl = (pod.containers ?? []).find((c) => c.name === 'controller');
  const configFile = configArg(ctl?.args);
  if (!ctl || !configFile) return report(name, ['no controller container with --config']);
  const mounts = podMounts(ctl, volumes);
  const cm = mountOf(configFile, mounts);
  const cmName = cm?.volume?.configMap?.name;
  const configMap = docs.find((d) => d.kind === 'ConfigMap' && d.metadata?.name === cmName);
  const text = configMap?.data?.[posix.relative(cm?.target ?? '/', configFile)];
  if (!text) return report(name, [`${configFile} is not a key of a mounted ConfigMap`]);
  let cfg;
  try {
    cfg = parse(text, configFile);
  } catch (e) {
    return report(name, [`ConfigMap ${cmName}: ${e.message}`]);
  }
  for (const [field, path] of Object.entries(configPaths(cfg, configFile))) {
    const m = mountOf(path, mounts);
    if (!m?.volume) {
      problems.push(`${field} ${path} is on no mounted volume`);
      continue;
    }
    const items = m.volume.secret?.items;
    if (
      field !== 'keyStoreDir' &&
      m.volume.secret &&
      items &&
      !items.some((i) => i.path === posix.relative(m.target, path))
    )
      problems.push(`${field} ${path}: the Secret ${m.volume.secret.secretName} projects no such item`);
  }
  // The key store: an emptyDir the controller mounts read-only, filled by an init container
  // that mounts it writable at the same path.
  const ks = mountOf(cfg.keyStoreDir, mounts);
  let script;
  if (ks?.volume) {
    if (!ks.volume.emptyDir)
      problems.push(
        `keyStoreDir: volume ${ks.name} is not an emptyDir (a Secret volume is group-readable under fsGroup; KeyStore refuses that)`,
      );
    if (!ks.readOnly) problems.push('keyStoreDir: the controller should mount the key store read-only');
    const init = (pod.initContainers ?? []).find((c) =>
      podMounts(c, volumes).some((m) => m.name === ks.name && m.target === ks.target && !m.readOnly),
    );
    if (!init) problems.push(`keyStoreDir: no init container fills volume ${ks.name}`);
    else {
      script = [].concat(init.command ?? [], init.args ?? []).at(-1);
      if (!String(script).includes(`KEYS_DIR:-${cfg.keyStoreDir}}`))
        problems.push(`init container ${init.name}: its copy script does not write ${cfg.keyStoreDir}`);
      const src = /KEYS_SOURCE:-([^}]+)\}/.exec(String(script))?.[1];
      const srcMount = podMounts(init, volumes).find((m) => m.target === src);
      if (!srcMount?.volume?.secret)
        problems.push(`init container ${init.name}: ${src} is not a mounted Secret`);
      if (init.image !== ctl.image)
        problems.push(`init container ${init.name}: image differs from the controller's`);
    }
  }
  report(name, problems);
  if (script) await runCopyScript(script);
}

/**
 * Runs the init container's copy script on a real key store flattened into Secret keys, then
 * opens the result with the controller's KeyStore: same keys, dir 0700, files 0600.
 */
async function runCopyScript(script) {
  const name = 'k8s: the init container copies a Secret-shaped key store into one KeyStore opens';
  const ksModule = join(repo, 'controller/dist/identity/key-store.js');
  if (!existsSync(ksModule)) return skip(name, 'controller not built');
  const { KeyStore } = await import(pathToFileURL(ksModule).href);
  const tmp = mkdtempSync(join(tmpdir(), 'lf-mounts-'));
  const problems = [];
  try {
    const store = await KeyStore.open(join(tmp, 'store'));
    await store.addSigningKey(); // two signing keys: the copy must take every one
    // A revoked one (keys revoke-signing-key): the copy must keep it revoked.
    const leaked = (await store.addSigningKey()).keyId;
    await store.revokeSigningKey(leaked);
    // Account signing keys (key rotation): two, one active; the copy must take both.
    const accountSigner = await store.addAccountSigningKey(true);
    await store.addAccountSigningKey();
    const secret = join(tmp, 'secret');
    mkdirSync(secret);
    const copy = (from, key) => writeFileSync(join(secret, key), read(from), { mode: 0o440 });
    for (const f of ['operator.nk', 'system.nk', 'account.nk']) copy(join(tmp, 'store/nats', f), f);
    copy(join(tmp, 'store/signing/active'), 'signing-active');
    for (const f of readdirSync(join(tmp, 'store/signing')).filter((x) => x.endsWith('.pem')))
      copy(join(tmp, 'store/signing', f), `signing-${f}`);
    copy(join(tmp, 'store/signing/revoked'), 'signing-revoked');
    const asDir = join(tmp, 'store/nats/account-signing');
    copy(join(asDir, 'active'), 'account-signing-active');
    for (const f of readdirSync(asDir).filter((x) => x.endsWith('.nk')))
      copy(join(asDir, f), `account-signing-${f}`);
    const out = join(tmp, 'out/keys');
    mkdirSync(dirname(out));
    execFileSync('sh', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KEYS_SOURCE: secret, KEYS_DIR: out },
      stdio: 'pipe',
    });
    const dirs = ['nats', 'signing', 'nats/account-signing'];
    const modes = [out, ...dirs.map((d) => join(out, d))].map((p) => statSync(p).mode & 0o777);
    if (modes.some((m) => m !== 0o700)) problems.push(`directory modes ${modes.map((m) => m.toString(8))}`);
    for (const d of dirs)
      for (const f of readdirSync(join(out, d)).filter((x) => statSync(join(out, d, x)).isFile()))
        if ((statSync(join(out, d, f)).mode & 0o777) !== 0o600) problems.push(`${d}/${f} is not 0600`);
    const copied = await KeyStore.open(out);
    if (copied.natsKeys().operator.getPublicKey() !== store.natsKeys().operator.getPublicKey())
      problems.push('operator key differs');
    if (copied.activeSigningKey().keyId !== store.activeSigningKey().keyId)
      problems.push('active key differs');
    if (copied.signingKeys().length !== 2)
      problems.push(`${copied.signingKeys().length} signing keys copied, 2 expected`);
    if (copied.revokedSigningKeys().join() !== leaked)
      problems.push(
        `revoked keys copied: ${copied.revokedSigningKeys().join() || 'none'}, ${leaked} expected`,
      );
    const as = copied.accountSigningKeys();
    if (as.active !== accountSigner || as.keys.length !== 2)
      problems.push(
        `account signing keys copied: ${as.keys.length} (2 expected), active ${as.active || 'none'}`,
      );
    // An incomplete Secret must stop the pod, not start a controller that makes new keys.
    rmSync(join(secret, 'account.nk'));
    try {
      execFileSync('sh', ['-c', script], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          KEYS_SOURCE: secret,
          KEYS_DIR: join(tmp, 'out2/keys'),
        },
        stdio: 'pipe',
      });
      problems.push('the script succeeded without account.nk');
    } catch {
      // expected
    }
  } catch (e) {
    problems.push(`${e.message}${e.stderr ? `: ${e.stderr}` : ''}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  report(name, problems);
}

// ---------------------------------------------------------------- NATS auth include
const cliPath = join(repo, 'controller/bin/launchfleet-controller.js');
const natsConfPath = join(deploy, 'nats/nats.conf');
const hasNatsServer = () => spawnSync('nats-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** The path nats.conf includes (relative to its own directory, as nats-server resolves it). */
function natsInclude(text) {
  return /^\s*include\s+"?([^\s";]+)"?\s*;?\s*$/m.exec(text)?.[1];
}

/** `nats-server -t -c conf`: undefined when valid, else its output. */
function natsTest(conf, env = {}) {
  const r = spawnSync('nats-server', ['-t', '-c', conf], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
  });
  return r.status === 0 ? undefined : `${r.stdout}${r.stderr}`.trim() || `exit ${r.status}`;
}

/** The `full` account resolver's directory an include names, or undefined. */
function resolverDir(text) {
  const block = /^resolver: \{\n([\s\S]*?)^\}/m.exec(text)?.[1] ?? '';
  if (!/^\s*type: full\s*$/m.test(block)) return undefined;
  return /^\s*dir: "([^"]+)"\s*$/m.exec(block)?.[1];
}

/** Where `nats-auth` puts the resolver directory: its `--resolver-dir`, else the default. */
function resolverDirOf(cmd) {
  return /--resolver-dir[= ]+(\S+)/.exec(cmd)?.[1] ?? '/data/jwt';
}

/** Problems with a generated include: not 0644, a seed of the store in it, no `full` resolver. */
function includeProblems(file, keysDir) {
  const problems = [];
  const mode = statSync(file).mode & 0o777;
  if (mode !== 0o644) problems.push(`${file} has mode ${mode.toString(8)}, expected 644`);
  const text = read(file);
  for (const f of ['operator.nk', 'system.nk', 'account.nk'])
    if (text.includes(read(join(keysDir, 'nats', f)).trim())) problems.push(`the include holds ${f}'s seed`);
  if (!/^operator: eyJ/m.test(text)) problems.push('the include has no operator JWT');
  const dir = resolverDir(text);
  if (!dir) problems.push('the include has no `full` account resolver with a dir');
  else if (!dir.startsWith('/')) problems.push(`the resolver dir ${dir} is not absolute`);
  return problems;
}

/**
 * The include as a server under `root` sees it for `nats-server -t`: the resolver directory
 * moved under `root` (`-t` creates it, and it must not land on the checking machine's /data).
 */
function includeUnder(root, text) {
  const dir = resolverDir(text);
  return dir ? text.replace(`dir: "${dir}"`, `dir: ${JSON.stringify(join(root, dir))}`) : text;
}

/**
 * compose: every NATS server mounts, read-only, a named volume where nats.conf's include line
 * points; a one-shot it waits for (service_completed_successfully) writes the include there
 * with `nats-auth --out`. Then that one-shot's command is run for real (its mounts and /app
 * mapped to a temp dir and the repository) and `nats-server -t` checks nats.conf with the
 * include it wrote, laid out as the servers see it.
 */
async function checkComposeNatsAuth() {
  const name =
    'compose: NATS servers mount the auth include where nats.conf includes it, written first by a one-shot';
  const doc = interpolate(parseYaml(read(join(deploy, 'compose/compose.yml')), { merge: true }));
  const services = doc.services ?? {};
  const include = natsInclude(read(natsConfPath));
  if (!include) return report(name, ['deploy/nats/nats.conf has no include line']);
  const problems = [];
  const nats = Object.entries(services).filter(([, svc]) => String(svc.image ?? '').includes('nats'));
  if (nats.length === 0) problems.push('no NATS services');
  let writer;
  for (const [n, svc] of nats) {
    const mounts = composeMounts(svc);
    const confTarget = configArg(svc.command);
    const cm = mounts.find((m) => m.target === confTarget && m.kind === 'bind');
    if (!cm || resolve(deploy, 'compose', cm.source) !== natsConfPath) {
      problems.push(`${n}: --config ${confTarget} is not a bind mount of deploy/nats/nats.conf`);
      continue;
    }
    const target = posix.resolve(posix.dirname(confTarget), include);
    const m = mountOf(target, mounts);
    if (!m || m.kind !== 'volume') {
      problems.push(`${n}: ${target} (nats.conf's include) is on no named volume`);
      continue;
    }
    if (!m.readOnly) problems.push(`${n}: the auth volume ${m.source} should be read-only`);
    const dep = Object.entries(svc.depends_on ?? {}).find(
      ([d, how]) =>
        how?.condition === 'service_completed_successfully' &&
        composeMounts(services[d] ?? {}).some((x) => x.source === m.source && !x.readOnly),
    );
    if (!dep) {
      problems.push(`${n}: no one-shot writing volume ${m.source} completes before it starts`);
      continue;
    }
    const w = composeMounts(services[dep[0]]).find((x) => x.source === m.source && !x.readOnly);
    const out = posix.join(w.target, posix.relative(m.target, target));
    const cmd = [].concat(services[dep[0]].command ?? []).join(' ');
    if (!/\bnats-auth\b/.test(cmd) || !cmd.includes(`--out ${out}`))
      problems.push(`${dep[0]}: does not write the include with \`nats-auth ... --out ${out}\``);
    else writer = { service: dep[0], cmd, mounts: composeMounts(services[dep[0]]), confTarget, target, out };
    // The account resolver keeps JWTs and revocations there: a server's own writable volume.
    const jwtDir = resolverDirOf(cmd);
    const jm = mountOf(jwtDir, mounts);
    if (!jm || jm.kind !== 'volume' || jm.readOnly || jm.source === m.source)
      problems.push(`${n}: the account resolver dir ${jwtDir} is on no writable volume of its own`);
    else if (nats.some(([o, other]) => o !== n && composeMounts(other).some((x) => x.source === jm.source)))
      problems.push(`${n}: the account resolver volume ${jm.source} is shared with another server`);
  }
  report(
    name,
    [...new Set(problems)],
    `${nats.length} servers, include ${include}, resolver dir ${writer ? resolverDirOf(writer.cmd) : '?'}`,
  );
  if (problems.length || !writer) return;

  const runName = `compose: ${writer.service}'s command writes an include that nats-server -t accepts in nats.conf`;
  if (!existsSync(join(repo, 'controller/dist/main.js'))) return skip(runName, 'controller not built');
  const tmp = mkdtempSync(join(tmpdir(), 'lf-nats-auth-'));
  const runProblems = [];
  try {
    // Every volume the one-shot mounts becomes a temp dir; /app is the repository. The chown
    // (to the image's node user) is left out: that user exists only in the image.
    let cmd = writer.cmd.split(/\s*&&\s*chown\b/)[0].replaceAll('/app/', `${repo}/`);
    const volumeDir = (source) => join(tmp, 'volumes', source);
    for (const m of [...writer.mounts].sort((a, b) => b.target.length - a.target.length))
      cmd = cmd.replaceAll(m.target, volumeDir(m.source));
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr.trim()}`);
    const keysMount = writer.mounts.find((m) => writer.cmd.includes(`--keys ${m.target}`));
    const outMount = mountOf(writer.out, writer.mounts);
    const written = join(volumeDir(outMount.source), posix.relative(outMount.target, writer.out));
    runProblems.push(...includeProblems(written, volumeDir(keysMount?.source ?? '')));
    if (!hasNatsServer()) {
      report(runName, runProblems);
      return skip('compose: nats-server -t of nats.conf with the include', 'nats-server not installed');
    }
    // The server's view: nats.conf at its mount target, the include at the one it names.
    const root = join(tmp, 'server');
    mkdirSync(join(root, posix.dirname(writer.confTarget)), { recursive: true });
    writeFileSync(join(root, writer.confTarget), read(natsConfPath));
    mkdirSync(join(root, posix.dirname(writer.target)), { recursive: true });
    writeFileSync(join(root, writer.target), includeUnder(root, read(written)));
    const bad = natsTest(join(root, writer.confTarget), { NATS_SERVER_NAME: 'nats-1' });
    if (bad) runProblems.push(`nats-server -t: ${bad}`);
  } catch (e) {
    runProblems.push(e.message);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  report(runName, runProblems);
}

/**
 * Kubernetes (the official NATS chart, nats-values.yaml): a `$include` key in config.merge,
 * which the chart resolves against /etc/nats-config; a container patch that mounts a volume
 * read-only there; a pod-template patch making that volume from a Secret whose item lands on
 * the included file; the chart's own resolver off (the include has one); and the documented
 * `kubectl create secret` naming that Secret and key. Then the documented pipe's first half
 * (`nats-auth` to stdout) is run and `nats-server -t` reads a stand-in for the chart's
 * nats.conf (the include line as the chart renders it) with the output at the mounted path.
 */
async function checkK8sNatsAuth() {
  const name =
    "k8s: nats-values.yaml mounts the Secret with the auth include where the chart's config includes it";
  const valuesFile = join(deploy, 'k8s/nats-values.yaml');
  const values = parseYaml(read(valuesFile));
  const problems = [];
  const includes = Object.entries(values?.config?.merge ?? {}).filter(([k]) => k.endsWith('$include'));
  if (includes.length !== 1)
    return report(name, [`${includes.length} $include keys in config.merge, expected 1`]);
  const include = String(includes[0][1]);
  const chartConfDir = '/etc/nats-config';
  const target = posix.resolve(chartConfDir, include);
  const added = (patch, path) =>
    (patch ?? []).filter((p) => p.op === 'add' && p.path === path).map((p) => p.value);
  const mount = added(values.container?.patch, '/volumeMounts/-').find((m) =>
    mountOf(target, [{ target: m.mountPath }]),
  );
  let secret;
  let key;
  if (!mount) problems.push(`no container.patch adds a volumeMount holding ${target}`);
  else {
    if (mount.readOnly !== true) problems.push(`volumeMount ${mount.name} should be readOnly`);
    if (mountOf(target, [{ target: chartConfDir }]))
      problems.push(`${target} is inside the chart's ConfigMap mount ${chartConfDir}`);
    const vol = added(values.podTemplate?.patch, '/spec/volumes/-').find((v) => v.name === mount.name);
    secret = vol?.secret?.secretName;
    const rel = posix.relative(mount.mountPath, target);
    key = vol?.secret?.items ? vol.secret.items.find((i) => i.path === rel)?.key : rel;
    if (!secret) problems.push(`no podTemplate.patch adds a Secret volume ${mount.name}`);
    else if (!key) problems.push(`Secret ${secret}: no item projected to ${rel}`);
  }
  if (values?.config?.resolver?.enabled === true)
    problems.push("config.resolver.enabled: the include sets the resolver; the chart's would conflict");
  // The include's account resolver directory must be on the servers' persistent volume.
  const documented = /nats-auth --keys[^|\n]*/.exec(read(valuesFile))?.[0] ?? '';
  const jwtDir = resolverDirOf(documented);
  const fileStore = values?.config?.jetstream?.fileStore ?? {};
  const storeDir = String(fileStore.dir ?? '/data');
  if (fileStore.enabled !== true || fileStore.pvc?.enabled !== true)
    problems.push('config.jetstream.fileStore: no persistent volume (enabled and pvc.enabled)');
  else if (!mountOf(jwtDir, [{ target: storeDir }]))
    problems.push(`the account resolver dir ${jwtDir} is not on the file store's volume ${storeDir}`);
  if (secret && key) {
    const want = `create secret generic ${secret} --from-file=${key}=`;
    for (const f of ['k8s/nats-values.yaml', 'k8s/kustomization.yaml', 'README.md'])
      if (!read(join(deploy, f)).includes(want))
        problems.push(`${f} does not document \`kubectl ... ${want}\``);
  }
  report(name, problems, `include ${include} -> ${target}, resolver dir ${jwtDir}`);
  if (problems.length) return;

  const runName =
    "k8s: `nats-auth` output at the Secret's mount passes nats-server -t with the chart's include line";
  if (!existsSync(join(repo, 'controller/dist/main.js'))) return skip(runName, 'controller not built');
  if (!hasNatsServer()) return skip(runName, 'nats-server not installed');
  const tmp = mkdtempSync(join(tmpdir(), 'lf-nats-auth-'));
  const runProblems = [];
  try {
    const keysDir = join(tmp, 'keys');
    const args = ['nats-auth', '--keys', keysDir, '--create', '--resolver-dir', jwtDir];
    const text = execFileSync(process.execPath, [cliPath, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const root = join(tmp, 'server');
    mkdirSync(join(root, posix.dirname(target)), { recursive: true });
    writeFileSync(join(root, target), text, { mode: 0o644 });
    runProblems.push(...includeProblems(join(root, target), keysDir));
    writeFileSync(join(root, target), includeUnder(root, text), { mode: 0o644 });
    const merge = Object.fromEntries(
      Object.entries(values.config.merge).filter(([k]) => !k.endsWith('$include')),
    );
    const conf = [
      '{',
      `  include ${include};`,
      '  "port": 4222,',
      `  "http_port": ${Number(values.config.monitor?.port ?? 8222)},`,
      '  "server_name": "nats-0",',
      `  "jetstream": { "store_dir": ${JSON.stringify(values.config.jetstream?.fileStore?.dir ?? '/data')} },`,
      ...Object.entries(merge).map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)},`),
      '}',
    ].join('\n');
    mkdirSync(join(root, chartConfDir), { recursive: true });
    writeFileSync(join(root, chartConfDir, 'nats.conf'), conf);
    const bad = natsTest(join(root, chartConfDir, 'nats.conf'));
    if (bad) runProblems.push(`nats-server -t: ${bad}`);
  } catch (e) {
    runProblems.push(`${e.message}${e.stderr ? `: ${e.stderr}` : ''}`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  report(runName, runProblems);
}

const commands = {
  compose: async () => {
    await checkCompose();
    await checkComposeNatsAuth();
  },
  k8s: async () => {
    await checkK8s();
    await checkK8sNatsAuth();
  },
};
const run = commands[process.argv[2]];
if (!run) {
  console.error(`usage: check-mounts.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  report(`check-mounts ${process.argv[2]}`, [e instanceof Error ? e.message : String(e)]);
}
process.exit(failed ? 1 : 0);
