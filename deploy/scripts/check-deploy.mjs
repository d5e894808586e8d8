#!/usr/bin/env node
// Structural checks of deploy/ that no installed tool does for us. deploy/check.sh runs each
// subcommand; each prints one line per check ("ok", "FAIL" or "skip") and exits 1 on a failure.
//
//   check-deploy.mjs rules        alerts have severity/annotations and firing + quiet tests
//   check-deploy.mjs metrics      every launchfleet_* name in deploy/ is in the metric catalog
//   check-deploy.mjs dashboard F  writes the dashboard's queries as recording rules to F (for promtool)
//   check-deploy.mjs plist        the LaunchDaemon's own policy (KeepAlive, ExitTimeOut, ...)
//   check-deploy.mjs systemd      the unit's policy (KillMode=process, no job-breaking sandboxing)
//   check-deploy.mjs agent-config agent.example.json through the agent's own parser, when built
//   check-deploy.mjs compose      compose.yml structure, files, ports, NATS routes, scrape targets
//   check-deploy.mjs k8s          manifests: identity, selectors, ConfigMaps, ports, kustomization
//   check-deploy.mjs dockerfiles  every COPY source of the repo-context Dockerfiles exists
//   check-deploy.mjs k8s-prometheus F  prometheus-k8s.yml with pod discovery swapped for a static
//                                 target, written to F (Debian's promtool has no Kubernetes SD)
//
// YAML comes from the `yaml` package and plists from `plist`, both in the repo's node_modules.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { parse as parsePlist } from 'plist';

const deploy = resolve(dirname(new URL(import.meta.url).pathname), '..');
const repo = resolve(deploy, '..');
let failed = false;

/** Prints one result line; `problems` empty means ok. */
function report(name, problems, detail = '') {
  if (problems.length === 0) {
    console.log(`ok   ${name}${detail ? ` (${detail})` : ''}`);
  } else {
    failed = true;
    console.log(`FAIL ${name}: ${problems.join('; ')}`);
  }
}
const skip = (name, why) => console.log(`skip ${name}: ${why}`);
const read = (p) => readFileSync(p, 'utf8');
const yamlFile = (p) => parseYaml(read(p), { merge: true });
const isObj = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);

// ---------------------------------------------------------------- alert rules and their tests
function checkRules() {
  const rules = yamlFile(join(deploy, 'prometheus/rules/launchfleet-alerts.yml'));
  const alerts = rules.groups.flatMap((g) => g.rules.filter((r) => r.alert));
  const testDir = join(deploy, 'prometheus/tests');
  const tests = readdirSync(testDir)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => yamlFile(join(testDir, f)).tests ?? []);
  const cases = tests.flatMap((t) => t.alert_rule_test ?? []);
  const problems = [];
  for (const a of alerts) {
    const sev = a.labels?.severity;
    if (!['info', 'warning', 'critical'].includes(sev)) problems.push(`${a.alert}: severity "${sev}"`);
    for (const k of ['summary', 'description', 'runbook'])
      if (!a.annotations?.[k]) problems.push(`${a.alert}: no ${k} annotation`);
    const mine = cases.filter((c) => c.alertname === a.alert);
    if (!mine.some((c) => (c.exp_alerts ?? []).length > 0))
      problems.push(`${a.alert}: no test where it fires`);
    if (!mine.some((c) => (c.exp_alerts ?? []).length === 0))
      problems.push(`${a.alert}: no test where it must stay quiet`);
    for (const c of mine)
      for (const e of c.exp_alerts ?? [])
        if (e.exp_labels?.severity !== sev)
          problems.push(`${a.alert}: a test expects severity ${e.exp_labels?.severity}`);
  }
  const unknown = cases.filter((c) => !alerts.some((a) => a.alert === c.alertname)).map((c) => c.alertname);
  if (unknown.length) problems.push(`tests name unknown alerts: ${[...new Set(unknown)].join(', ')}`);
  report(
    'alert rules: severity, summary/description/runbook, firing and quiet tests',
    problems,
    `${alerts.length} alerts, ${cases.length} test evaluations`,
  );
}

// ---------------------------------------------------------------- metric names against the catalog
function checkMetrics() {
  const catalogPath = join(repo, 'shared/src/metrics/catalog.ts');
  if (!existsSync(catalogPath)) return skip('metric names', 'shared/src/metrics/catalog.ts not found');
  const known = new Set([...read(catalogPath).matchAll(/'(launchfleet_[a-z0-9_]+)'/g)].map((m) => m[1]));
  const files = [
    'prometheus/rules/launchfleet-alerts.yml',
    ...readdirSync(join(deploy, 'prometheus/tests')).map((f) => `prometheus/tests/${f}`),
    'grafana/launchfleet-dashboard.json',
  ];
  const problems = [];
  for (const f of files) {
    // histograms expose _bucket/_sum/_count series of a catalog name
    for (const [name] of read(join(deploy, f)).matchAll(/\blaunchfleet_[a-z0-9_]+/g)) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      if (!known.has(name) && !known.has(base)) problems.push(`${f}: ${name}`);
    }
  }
  report(
    'metric names used in rules, tests and dashboard are in the catalog',
    [...new Set(problems)],
    `${known.size} catalog names`,
  );
}

// ---------------------------------------------------------------- Grafana dashboard
function checkDashboard(outFile) {
  const path = join(deploy, 'grafana/launchfleet-dashboard.json');
  const problems = [];
  let dash;
  try {
    dash = JSON.parse(read(path));
  } catch (e) {
    return report('dashboard JSON', [e.message]);
  }
  if (!dash.uid || !dash.title) problems.push('uid and title are required');
  const panels = dash.panels ?? [];
  const exprs = [];
  for (const p of panels) {
    if (!p.gridPos) problems.push(`panel ${p.id} has no gridPos`);
    if (p.type === 'row') continue;
    if (!p.datasource) problems.push(`panel "${p.title}" has no datasource`);
    if (!(p.targets ?? []).length) problems.push(`panel "${p.title}" has no query`);
    for (const t of p.targets ?? []) exprs.push({ panel: p.title, expr: t.expr });
  }
  const titles = panels.map((p) => p.title.toLowerCase()).join('\n');
  for (const want of [
    'nodes online',
    'nodes offline',
    'crash-looping',
    'throttled',
    'failed to load',
    'signature refusals',
    'drift',
    'rollout progress',
    'rollout state',
  ])
    if (!titles.includes(want)) problems.push(`no panel about "${want}"`);
  const ids = panels.map((p) => p.id);
  if (new Set(ids).size !== ids.length) problems.push('panel ids are not unique');
  // Grafana variables are not PromQL: give them values so promtool can parse each query.
  const rules = exprs.map((e, i) => ({
    record: `dashboard:query_${i}`,
    expr: e.expr.replaceAll('$__rate_interval', '5m').replaceAll('$label', '.*'),
  }));
  writeFileSync(outFile, JSON.stringify({ groups: [{ name: 'dashboard-queries', rules }] }, null, 2));
  report(
    'dashboard structure and required panels',
    problems,
    `${panels.length} panels, ${exprs.length} queries`,
  );
}

// ---------------------------------------------------------------- agent service definitions
const agentBinary = '/usr/local/lib/launchfleet/bin/launchfleet-agent';

function checkPlist() {
  const p = join(deploy, 'agent/com.launchfleet.agent.plist');
  let d;
  try {
    d = parsePlist(read(p));
  } catch (e) {
    return report('LaunchDaemon plist policy', [`not a plist: ${e.message}`]);
  }
  const problems = [];
  if (d.Label !== 'com.launchfleet.agent') problems.push(`Label is ${d.Label}`);
  if (d.KeepAlive !== true) problems.push('KeepAlive must be true');
  if (d.RunAtLoad !== true) problems.push('RunAtLoad must be true');
  if (!Number.isInteger(d.ThrottleInterval) || d.ThrottleInterval < 1 || d.ThrottleInterval > 60)
    problems.push('ThrottleInterval must be 1..60 s');
  // the agent gives each job its ExitTimeOut (20 s default) before it exits itself
  if (!Number.isInteger(d.ExitTimeOut) || d.ExitTimeOut < 30) problems.push('ExitTimeOut must be >= 30 s');
  const argv = d.ProgramArguments ?? [];
  if (argv[0] !== agentBinary || !argv.includes('--config'))
    problems.push(`ProgramArguments ${JSON.stringify(argv)}`);
  for (const k of ['StandardOutPath', 'StandardErrorPath'])
    if (!String(d[k] ?? '').startsWith('/var/log/launchfleet/'))
      problems.push(`${k} not under /var/log/launchfleet`);
  if (d.SoftResourceLimits?.NumberOfFiles || d.HardResourceLimits?.NumberOfFiles)
    problems.push('NumberOfFiles in a LaunchDaemon also sets kern.maxfiles');
  report('LaunchDaemon plist policy (KeepAlive, RunAtLoad, ThrottleInterval, ExitTimeOut, logs)', problems);
}

/** Parses a systemd time span ("60s", "1min 30s", "90") into seconds. */
function seconds(span) {
  const units = { ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };
  let total = 0;
  for (const [, n, u] of String(span).matchAll(/(\d+)\s*([a-z]*)/g))
    total += Number(n) * (units[u || 's'] ?? NaN);
  return total;
}

function checkSystemd() {
  const text = read(join(deploy, 'agent/launchfleet-agent.service'));
  const unit = {};
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(line);
    if (sec) {
      section = sec[1];
      unit[section] ??= {};
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !section) return report('systemd unit structure', [`cannot parse line: ${line}`]);
    unit[section][kv[1]] = kv[2];
  }
  const s = unit.Service ?? {};
  const problems = [];
  if (!unit.Unit?.Description) problems.push('[Unit] Description missing');
  if (s.Type !== 'simple') problems.push('Type must be simple');
  if (s.Restart !== 'always') problems.push('Restart must be always');
  // process: the agent stops its own jobs, and an upgrade's detach leaves them running (docs/upgrades.md).
  if (s.KillMode !== 'process')
    problems.push('KillMode must be process (the agent stops its own jobs; an upgrade keeps them)');
  if (!/KillMode=process/.test(text) || !/ExitTimeOut/.test(text) || !/detach/.test(text))
    problems.push('the KillMode comment must say why');
  if (!(seconds(s.TimeoutStopSec) >= 30)) problems.push('TimeoutStopSec must be >= 30 s');
  if (!String(s.ExecStart ?? '').startsWith(`${agentBinary} --config `))
    problems.push(`ExecStart ${s.ExecStart}`);
  if (s.User && s.User !== 'root') problems.push('the agent runs as root');
  // inherited by every job: these change what managed jobs can do
  for (const k of [
    'ProtectSystem',
    'ProtectHome',
    'PrivateTmp',
    'NoNewPrivileges',
    'CapabilityBoundingSet',
    'SystemCallFilter',
    'PrivateUsers',
    'ProtectControlGroups',
  ])
    if (k in s) problems.push(`${k} is inherited by every job`);
  if (!unit.Install?.WantedBy) problems.push('[Install] WantedBy missing');
  report('systemd unit structure and policy (Type, Restart, KillMode=process, TimeoutStopSec)', problems);
}

async function checkAgentConfig() {
  const example = join(deploy, 'agent/agent.example.json');
  const compiled = join(repo, 'node-agent/dist/config/agent-config.js');
  let text;
  try {
    text = read(example);
    JSON.parse(text);
  } catch (e) {
    return report('agent.example.json', [e.message]);
  }
  if (!existsSync(compiled))
    return skip('agent.example.json through the agent config parser', 'node-agent not built');
  const { parseAgentConfig, defaultConfig } = await import(pathToFileURL(compiled).href);
  try {
    const cfg = parseAgentConfig(
      text,
      '/etc/launchfleet/agent.json',
      defaultConfig({ isRoot: true, cwd: '/' }),
    );
    const problems = cfg.controller?.natsUrls?.length ? [] : ['no controller.natsUrls'];
    report('agent.example.json through the agent config parser', problems);
  } catch (e) {
    report('agent.example.json through the agent config parser', [e.message]);
  }
}

// ---------------------------------------------------------------- compose
/**
 * Compose-style interpolation of ${VAR}, ${VAR:-default} and ${VAR-default} with every variable
 * unset: the check is about the file's own defaults, whatever the CI environment holds.
 */
function interpolate(v) {
  if (typeof v === 'string')
    return v.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_, _name, op, arg) =>
      op === ':-' || op === '-' ? arg : '',
    );
  if (Array.isArray(v)) return v.map(interpolate);
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolate(x)]));
  return v;
}

function checkCompose() {
  const file = join(deploy, 'compose/compose.yml');
  const base = dirname(file);
  const doc = interpolate(yamlFile(file));
  const services = doc.services ?? {};
  const names = Object.keys(services);
  const problems = [];
  const ports = [];
  for (const [name, svc] of Object.entries(services)) {
    if (!svc.image && !svc.build) problems.push(`${name}: neither image nor build`);
    if (svc.build) {
      const ctx = resolve(base, svc.build.context ?? svc.build);
      if (!existsSync(ctx)) problems.push(`${name}: build context ${ctx} missing`);
      if (svc.build.dockerfile && !existsSync(resolve(ctx, svc.build.dockerfile)))
        problems.push(`${name}: Dockerfile ${svc.build.dockerfile} missing`);
    }
    // A one-shot service (restart 'no', e.g. controller-keys) is awaited by completion, not health.
    if (!svc.healthcheck?.test && svc.restart !== 'no') problems.push(`${name}: no healthcheck`);
    for (const v of svc.volumes ?? []) {
      const src = String(typeof v === 'string' ? v.split(':')[0] : v.source);
      if (src.startsWith('.') || src.startsWith('/')) {
        if (!existsSync(resolve(base, src))) problems.push(`${name}: bind source ${src} missing`);
      } else if (!(src in (doc.volumes ?? {}))) problems.push(`${name}: volume ${src} not declared`);
    }
    for (const c of svc.configs ?? [])
      if (!doc.configs?.[c.source ?? c]) problems.push(`${name}: config ${c.source ?? c} not declared`);
    for (const s of svc.secrets ?? [])
      if (!doc.secrets?.[s.source ?? s]) problems.push(`${name}: secret ${s.source ?? s} not declared`);
    for (const [dep, how] of Object.entries(isObj(svc.depends_on) ? svc.depends_on : {}))
      if (!services[dep]) problems.push(`${name}: depends on unknown ${dep}`);
      else if (how.condition === 'service_healthy' && !services[dep].healthcheck)
        problems.push(`${name}: waits for ${dep} to be healthy, which has no healthcheck`);
    for (const p of svc.ports ?? []) {
      const parts = String(p).split(':');
      // host ports must name an address; published ports stay on loopback unless overridden
      if (parts.length !== 3 || parts[0] !== '127.0.0.1')
        problems.push(`${name}: port "${p}" not bound to 127.0.0.1`);
      ports.push(p);
    }
  }
  for (const [n, c] of Object.entries(doc.configs ?? {}))
    if (c.file && !existsSync(resolve(base, c.file))) problems.push(`config ${n}: ${c.file} missing`);
  for (const [n, s] of Object.entries(doc.secrets ?? {}))
    if (s.file && !existsSync(dirname(resolve(base, s.file))))
      problems.push(`secret ${n}: directory of ${s.file} missing`);
  report(
    'compose: images/builds, files, volumes, configs, secrets, healthchecks, loopback ports',
    problems,
    `${names.length} services, ${ports.length} published ports`,
  );

  // NATS: three servers with distinct names, and the routes in nats.conf name them
  const nats = names.filter((n) => String(services[n].image ?? '').includes('nats'));
  const serverNames = nats.map((n) => services[n].environment?.NATS_SERVER_NAME);
  const routes = [...read(join(deploy, 'nats/nats.conf')).matchAll(/nats-route:\/\/([^:\s]+):6222/g)].map(
    (m) => m[1],
  );
  const natsProblems = [];
  if (nats.length !== 3) natsProblems.push(`${nats.length} NATS services`);
  if (new Set(serverNames).size !== nats.length || serverNames.includes(undefined))
    natsProblems.push('NATS_SERVER_NAME must be set and unique');
  if (routes.sort().join() !== [...nats].sort().join())
    natsProblems.push(`routes ${routes} vs services ${nats}`);
  const ctl = JSON.parse(read(join(base, 'controller.json')));
  for (const u of ctl.natsUrls ?? [])
    if (!nats.includes(new URL(u).hostname)) natsProblems.push(`controller.json: ${u} is not a NATS service`);
  report('compose: 3 NATS servers, cluster routes and controller NATS URLs agree', natsProblems);

  // Prometheus scrapes the compose services at the ports they listen on
  const prom = yamlFile(join(deploy, 'prometheus/prometheus.yml'));
  const scrapeProblems = [];
  const targets = [
    ...prom.scrape_configs.flatMap((j) => (j.static_configs ?? []).flatMap((s) => s.targets)),
    ...prom.alerting.alertmanagers.flatMap((a) => a.static_configs.flatMap((s) => s.targets)),
  ];
  for (const t of targets) {
    const [host] = t.split(':');
    if (host !== 'localhost' && !services[host]) scrapeProblems.push(`${t}: no such compose service`);
  }
  const controllers = names.filter((n) => /^controller-\d+$/.test(n));
  const job = prom.scrape_configs.find((j) => j.job_name === 'launchfleet-controller');
  const scraped = (job?.static_configs ?? []).flatMap((s) => s.targets).map((t) => t.split(':')[0]);
  for (const c of controllers) if (!scraped.includes(c)) scrapeProblems.push(`${c} is not scraped`);
  report(
    'prometheus.yml targets are compose services; every controller is scraped',
    scrapeProblems,
    `${targets.length} targets`,
  );
}

// ---------------------------------------------------------------- Kubernetes
const matches = (selector, labels) =>
  isObj(selector) && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

function checkK8s() {
  const dir = join(deploy, 'k8s');
  const files = readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== 'nats-values.yaml')
    .sort();
  const docs = [];
  const problems = [];
  let kustomization;
  for (const f of files) {
    for (const d of parseAllDocuments(read(join(dir, f)))) {
      if (d.errors.length) problems.push(`${f}: ${d.errors[0].message}`);
      const obj = d.toJS();
      if (obj === null || obj === undefined) continue;
      if (obj.kind === 'Kustomization') kustomization = { file: f, obj };
      else docs.push({ file: f, obj });
    }
  }
  for (const { file, obj } of docs) {
    if (!obj.apiVersion || !obj.kind || !obj.metadata?.name)
      problems.push(`${file}: apiVersion, kind and metadata.name required`);
    if (
      kustomization?.obj.namespace &&
      obj.kind !== 'Namespace' &&
      obj.metadata?.namespace !== kustomization.obj.namespace
    )
      problems.push(`${file}: namespace ${obj.metadata?.namespace}`);
  }
  const workloads = docs.filter((d) => ['Deployment', 'StatefulSet', 'DaemonSet'].includes(d.obj.kind));
  const configMaps = new Set(docs.filter((d) => d.obj.kind === 'ConfigMap').map((d) => d.obj.metadata.name));
  const podLabels = workloads.map((w) => w.obj.spec?.template?.metadata?.labels ?? {});
  for (const { file, obj } of workloads) {
    const spec = obj.spec ?? {};
    const pod = spec.template?.spec ?? {};
    if (!matches(spec.selector?.matchLabels, spec.template?.metadata?.labels))
      problems.push(`${file}: selector does not match the pod template labels`);
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const v of pod.volumes ?? [])
      if (v.configMap && !configMaps.has(v.configMap.name))
        problems.push(`${file}: ConfigMap ${v.configMap.name} not defined`);
    for (const c of pod.containers ?? []) {
      if (!c.image) problems.push(`${file}: container ${c.name} has no image`);
      const portNames = new Set((c.ports ?? []).map((p) => p.name));
      for (const m of c.volumeMounts ?? [])
        if (!volumes.has(m.name)) problems.push(`${file}: mount ${m.name} has no volume`);
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.configMapKeyRef?.name;
        if (ref && !configMaps.has(ref))
          problems.push(`${file}: env ${e.name} uses undefined ConfigMap ${ref}`);
      }
      for (const e of c.envFrom ?? [])
        if (e.configMapRef && !configMaps.has(e.configMapRef.name))
          problems.push(`${file}: envFrom ConfigMap ${e.configMapRef.name}`);
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe]) {
        const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
        if (typeof port === 'string' && !portNames.has(port))
          problems.push(`${file}: probe port ${port} not declared`);
      }
    }
    const ann = spec.template?.metadata?.annotations ?? {};
    if (ann['prometheus.io/scrape'] === 'true') {
      const declared = (pod.containers ?? []).flatMap((c) =>
        (c.ports ?? []).map((p) => String(p.containerPort)),
      );
      if (!declared.includes(String(ann['prometheus.io/port'])))
        problems.push(`${file}: scrape port is not a container port`);
    }
  }
  for (const { file, obj } of docs) {
    const sel =
      obj.kind === 'Service'
        ? obj.spec?.selector
        : obj.kind === 'PodDisruptionBudget'
          ? obj.spec?.selector?.matchLabels
          : obj.kind === 'NetworkPolicy'
            ? obj.spec?.podSelector?.matchLabels
            : undefined;
    if (sel === undefined) continue;
    const i = podLabels.findIndex((l) => matches(sel, l));
    if (i < 0) {
      problems.push(`${file}: ${obj.kind} selector matches no workload`);
      continue;
    }
    if (obj.kind === 'Service') {
      const names = new Set(
        (workloads[i].obj.spec.template.spec.containers ?? []).flatMap((c) =>
          (c.ports ?? []).map((p) => p.name),
        ),
      );
      for (const p of obj.spec.ports ?? [])
        if (typeof p.targetPort === 'string' && !names.has(p.targetPort))
          problems.push(`${file}: targetPort ${p.targetPort}`);
    }
  }
  for (const { file, obj } of docs.filter((d) => d.obj.kind === 'ConfigMap'))
    for (const [k, v] of Object.entries(obj.data ?? {}))
      if (k.endsWith('.json'))
        try {
          JSON.parse(v);
        } catch (e) {
          problems.push(`${file}: ${k} is not JSON: ${e.message}`);
        }
  if (!kustomization) problems.push('no kustomization.yaml');
  else {
    const listed = kustomization.obj.resources ?? [];
    for (const r of listed) if (!existsSync(join(dir, r))) problems.push(`kustomization: ${r} missing`);
    for (const f of files)
      if (f !== kustomization.file && !listed.includes(f)) problems.push(`kustomization does not list ${f}`);
  }
  const deploymentReplicas = workloads.map((w) => w.obj.spec.replicas);
  if (!deploymentReplicas.includes(2)) problems.push('the controller Deployment should run 2 replicas');
  report(
    'k8s manifests: identity, namespace, selectors, ConfigMaps, ports, kustomization',
    problems,
    `${docs.length} objects in ${files.length} files`,
  );

  const values = yamlFile(join(dir, 'nats-values.yaml'));
  const v = [];
  if (values?.config?.cluster?.enabled !== true || values.config.cluster.replicas !== 3)
    v.push('cluster: enabled, 3 replicas');
  if (values?.config?.jetstream?.enabled !== true) v.push('jetstream.enabled');
  if (values?.config?.jetstream?.fileStore?.enabled !== true || !values.config.jetstream.fileStore.pvc?.size)
    v.push('jetstream.fileStore with a pvc size');
  report('nats-values.yaml: 3-node cluster, JetStream file storage', v);
}

// ---------------------------------------------------------------- Dockerfiles
function checkDockerfiles() {
  const problems = [];
  let copies = 0;
  // nats.Dockerfile builds from a context that build-nats-image.sh stages, not from the repo
  for (const f of ['controller.Dockerfile', 'agent.Dockerfile']) {
    const text = read(join(deploy, 'docker', f)).replace(/\\\n/g, ' ');
    const stages = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
    if (!stages.every((img) => img === 'node:24-bookworm-slim')) problems.push(`${f}: base images ${stages}`);
    if (stages.length < 2) problems.push(`${f}: not multi-stage`);
    if (!/npm ci --omit=dev/.test(text)) problems.push(`${f}: no npm ci --omit=dev`);
    for (const m of text.matchAll(/^COPY\s+(?!--from)(.+)$/gm)) {
      const args = m[1]
        .trim()
        .split(/\s+/)
        .filter((a) => !a.startsWith('--'));
      for (const src of args.slice(0, -1)) {
        copies++;
        if (!existsSync(join(repo, src))) problems.push(`${f}: COPY source ${src} missing`);
      }
    }
  }
  const ctl = read(join(deploy, 'docker/controller.Dockerfile'));
  if (!/^USER\s+(?!root|0\b)\S+/m.test(ctl))
    problems.push('controller.Dockerfile: must run as a non-root USER');
  if (!/^FROM scratch/m.test(read(join(deploy, 'docker/nats.Dockerfile'))))
    problems.push('nats.Dockerfile: not FROM scratch');
  report(
    'Dockerfiles: multi-stage node:24-bookworm-slim (the supported runtime), npm ci --omit=dev, non-root controller, COPY sources',
    problems,
    `${copies} COPY sources`,
  );
}

// ---------------------------------------------------------------- prometheus-k8s.yml
function k8sPrometheus(outFile) {
  const src = join(deploy, 'prometheus/prometheus-k8s.yml');
  const cfg = yamlFile(src);
  const problems = [];
  const job = cfg.scrape_configs?.find((j) => j.job_name === 'launchfleet-controller');
  if (!job?.kubernetes_sd_configs) problems.push('no launchfleet-controller job with kubernetes_sd_configs');
  else {
    // the relabelling must keep the pods the Deployment labels and annotates
    const keeps = (job.relabel_configs ?? []).filter((r) => r.action === 'keep').map((r) => r.regex);
    if (!keeps.includes('launchfleet-controller') || !keeps.includes('true')) problems.push('relabel keeps');
    delete job.kubernetes_sd_configs;
    job.static_configs = [{ targets: ['launchfleet-controller:9470'] }];
  }
  cfg.rule_files = (cfg.rule_files ?? []).map((f) => resolve(dirname(src), f));
  writeFileSync(outFile, JSON.stringify(cfg, null, 2));
  report('prometheus-k8s.yml: controller job with pod discovery and keep rules', problems);
}

// ---------------------------------------------------------------- main
const [cmd, arg] = process.argv.slice(2);
const commands = {
  rules: checkRules,
  metrics: checkMetrics,
  dashboard: () => checkDashboard(arg ?? '/dev/null'),
  plist: checkPlist,
  systemd: checkSystemd,
  'agent-config': checkAgentConfig,
  compose: checkCompose,
  k8s: checkK8s,
  dockerfiles: checkDockerfiles,
  'k8s-prometheus': () => k8sPrometheus(arg ?? '/dev/null'),
};
const run = commands[cmd];
if (!run) {
  console.error(`usage: check-deploy.mjs ${Object.keys(commands).join('|')}`);
  process.exit(2);
}
try {
  await run();
} catch (e) {
  report(`check-deploy ${cmd}`, [e instanceof Error ? e.message : String(e)]);
}
process.exit(failed ? 1 : 0);
