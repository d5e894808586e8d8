#!/usr/bin/env node
// The controller can run as configured: every path its config names (the config file itself,
// keyStoreDir, apiTokensFile, the TLS pair) is provided by a mount of the compose services /
// the Kubernetes Deployment, and the key store arrives in the form KeyStore accepts (a private
// directory the controller only reads). deploy/check.sh runs both subcommands; each prints one
// line per check ("ok", "FAIL" or "skip") and exits 1 on a failure.
//
//   check-mounts.mjs compose   compose.yml against compose/controller.json
//   check-mounts.mjs k8s       controller-deployment.yaml against controller-configmap.yaml, and
//                              the init container's copy script run for real on a fresh key store
//
// The configs go through the controller's own parser (controller/dist), which resolves paths.
import { execFileSync } from 'node:child_process';
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
        if (!cmd.includes('KeyStore.open') || !cmd.includes(cfg.keyStoreDir))
          problems.push(`${init[0]}: does not open the key store at ${cfg.keyStoreDir}`);
        if (!/chown -R node:node/.test(cmd))
          problems.push(`${init[0]}: does not give the store to the node user`);
        const modulePath = /import\('\/app\/([^']+)'\)/.exec(cmd)?.[1];
        if (!modulePath || !existsSync(join(repo, modulePath)))
          problems.push(`${init[0]}: imports ${modulePath}, which the image does not have`);
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
    const secret = join(tmp, 'secret');
    mkdirSync(secret);
    const copy = (from, key) => writeFileSync(join(secret, key), read(from), { mode: 0o440 });
    for (const f of ['operator.nk', 'system.nk', 'account.nk']) copy(join(tmp, 'store/nats', f), f);
    copy(join(tmp, 'store/signing/active'), 'signing-active');
    for (const f of readdirSync(join(tmp, 'store/signing')).filter((x) => x.endsWith('.pem')))
      copy(join(tmp, 'store/signing', f), `signing-${f}`);
    const out = join(tmp, 'out/keys');
    mkdirSync(dirname(out));
    execFileSync('sh', ['-c', script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', KEYS_SOURCE: secret, KEYS_DIR: out },
      stdio: 'pipe',
    });
    const modes = [out, join(out, 'nats'), join(out, 'signing')].map((p) => statSync(p).mode & 0o777);
    if (modes.some((m) => m !== 0o700)) problems.push(`directory modes ${modes.map((m) => m.toString(8))}`);
    for (const d of ['nats', 'signing'])
      for (const f of readdirSync(join(out, d)))
        if ((statSync(join(out, d, f)).mode & 0o777) !== 0o600) problems.push(`${d}/${f} is not 0600`);
    const copied = await KeyStore.open(out);
    if (copied.natsKeys().operator.getPublicKey() !== store.natsKeys().operator.getPublicKey())
      problems.push('operator key differs');
    if (copied.activeSigningKey().keyId !== store.activeSigningKey().keyId)
      problems.push('active key differs');
    if (copied.signingKeys().length !== 2)
      problems.push(`${copied.signingKeys().length} signing keys copied, 2 expected`);
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

const commands = { compose: checkCompose, k8s: checkK8s };
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
