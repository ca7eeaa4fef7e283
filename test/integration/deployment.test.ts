/**
 * The deployment files, checked against the code they deploy without Docker or a cluster
 * (docker/README in the main README, "Run in production"): docker/Dockerfile and its ignore file,
 * docker/compose.yaml (+ compose.tls.yaml, .env.example, the nginx and MinIO files it mounts) and
 * the Kubernetes manifests of docker/k8s/kustomization.yaml.
 *
 * The wiring: every variable set is one Lucida reads (schemas/config.schema.json; NAME_FILE for
 * its SECRET_VARIABLES), the production settings reach every API and worker container, secret
 * files are mounted where their *_FILE variables point, ports and probes match PORT and the routes
 * of services/api/routes/health.ts, commands exist in services/cli.ts, the image is multi-stage
 * with a non-root user and no devDependencies at run time, the bucket MinIO is given is the one
 * Lucida uses. Each check returns the problems it finds; each is also run on a copy of the files
 * with one mistake made, and must report it, so that no check passes by finding nothing to check.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SECRET_VARIABLES } from '../../services/core/config.js';
import { loadSessionKey } from '../../services/core/auth/tokens.js';
import {
  dockerignore, execForm, interpolate, nginxLocationFor, nginxLocations, parseDockerfile, readEnvFile,
  readKustomization, readYaml, type Interpolation, type K8sDoc,
} from '../helpers/deployment-files.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCKER = path.join(ROOT, 'docker');
const read = (relative: string) => readFileSync(path.join(ROOT, relative), 'utf8');

const LIVENESS = '/healthz';
const READINESS = '/readyz';
/** What a production API or worker process is given (README, "Run in production"). */
const PRODUCTION = ['DATABASE_URL', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY', 'PUBLIC_BASE_URL',
  'AUTH_ISSUER', 'AUTH_AUDIENCE', 'AUTH_JWKS_URL', 'AUTH_ROLE_MAP', 'SESSION_KEY_FILE', 'TRUST_PROXY', 'DATA_DIR'];
/** Variables whose value is the path of a secret file. */
const FILE_VARIABLES = [...SECRET_VARIABLES.map((v) => `${v}_FILE`), 'SESSION_KEY_FILE'];
/**
 * Variables Node itself reads that a deployment may need to set: NODE_EXTRA_CA_CERTS above all,
 * when MinIO, Postgres or the OIDC provider present certificates from the Trust's internal CA.
 */
const NODE_VARIABLES = ['NODE_EXTRA_CA_CERTS', 'NODE_OPTIONS', 'NODE_ENV', 'TZ'];
/** Seconds the preStop hook and the queue's stop may take besides the HTTP drain. */
const QUEUE_STOP_SECONDS = 10;

/** What the code says: the variables it reads, its commands, the paths it serves, its drain. */
const facts = (() => {
  const schema = JSON.parse(read('schemas/config.schema.json')) as { properties: Record<string, { default?: unknown }> };
  // The API server's drain: `listenHttp(..., { drainMs })`, or the older inline `setTimeout(closeAllConnections, ms)`.
  const drain = /\bdrainMs:\s*([\d_]+)/.exec(read('services/runtime.ts')) ?? /closeAllConnections\(\),\s*([\d_]+)\)/.exec(read('services/runtime.ts'));
  return {
    variables: new Set(Object.keys(schema.properties)),
    defaultPort: Number(schema.properties.PORT.default),
    commands: new Set([...read('services/cli.ts').matchAll(/case '([a-z-]+)':/g)].map((m) => m[1])),
    healthPaths: new Set([...read('services/api/routes/health.ts').matchAll(/router\.get\('([^']+)'/g)].map((m) => m[1])),
    metricsPaths: new Set([...read('services/api/routes/metrics.ts').matchAll(/router\.get\('([^']+)'/g)].map((m) => m[1])),
    drainSeconds: drain ? Number(drain[1].replace(/_/g, '')) / 1000 : NaN,
  };
})();

const knownVariable = (name: string) => facts.variables.has(name) || NODE_VARIABLES.includes(name)
  || (name.endsWith('_FILE') && SECRET_VARIABLES.includes(name.slice(0, -'_FILE'.length)));
const provided = (env: Record<string, string | undefined>, name: string) => Boolean(env[name])
  || (SECRET_VARIABLES.includes(name) && Boolean(env[`${name}_FILE`]));

/** Parsed YAML, checked field by field. */
type Json = any;

// ---------------------------------------------------------------------------------------------
// Dockerfile

function dockerfileProblems(dockerfile: string, ignoreText: string): string[] {
  const p: string[] = [];
  const stages = parseDockerfile(dockerfile);
  const ignored = dockerignore(ignoreText);
  if (stages.length < 2) p.push('Dockerfile: a single stage (the viewer is built in a build stage, not in the image)');
  const runtime = stages.at(-1)!;
  const all = (stage: typeof runtime, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
  const last = (keyword: string) => all(runtime, keyword).at(-1);

  const viewerStage = stages.slice(0, -1).find((s) => all(s, 'RUN').some((r) => /npm run build:viewer\b/.test(r)));
  if (!viewerStage) p.push('Dockerfile: no build stage runs npm run build:viewer');
  if (all(runtime, 'RUN').some((r) => /build:viewer|\bvite\b/.test(r))) p.push('Dockerfile: the runtime stage builds the viewer (devDependencies)');
  const installs = all(runtime, 'RUN').filter((r) => /\bnpm (ci|install)\b/.test(r));
  if (!installs.length || installs.some((r) => !/--omit=dev\b/.test(r))) p.push('Dockerfile: the runtime stage installs devDependencies (npm ci without --omit=dev)');

  // The code finds schemas/ and viewer/dist/ relative to services/: all three under WORKDIR.
  const workdir = last('WORKDIR') ?? '/';
  const copies = stages.flatMap((s) => all(s, 'COPY').map((args) => {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    return { stage: s, from, sources: paths.slice(0, -1), dest: path.posix.resolve(workdir, paths.at(-1)!) };
  }));
  const runtimeCopies = copies.filter((c) => c.stage === runtime);
  const viewerCopy = runtimeCopies.find((c) => c.from && c.sources.some((s) => /viewer\/dist\/?$/.test(s)));
  if (!viewerCopy || viewerCopy.from !== viewerStage?.name) p.push('Dockerfile: the runtime stage does not COPY viewer/dist from the stage that builds it');
  else if (viewerCopy.dest !== path.posix.join(workdir, 'viewer/dist')) p.push(`Dockerfile: viewer/dist copied to ${viewerCopy.dest}, not ${workdir}/viewer/dist`);
  for (const needed of ['package.json', 'services', 'schemas']) {
    const ok = runtimeCopies.some((c) => !c.from && c.sources.includes(needed)
      && [workdir, path.posix.join(workdir, needed)].includes(c.dest.replace(/\/$/, '')));
    if (!ok) p.push(`Dockerfile: the runtime stage does not COPY ${needed} into ${workdir}`);
  }
  for (const c of copies.filter((x) => !x.from)) {
    for (const source of c.sources) {
      if (!existsSync(path.join(ROOT, source))) p.push(`Dockerfile: COPY ${source}: no such file in the repository`);
      else if (ignored(source)) p.push(`Dockerfile: COPY ${source}: excluded from the context by Dockerfile.dockerignore`);
    }
  }
  for (const local of ['node_modules', 'data', 'test-logs', '.git', '.tmp', 'viewer/dist', 'docker/secrets']) {
    if (!ignored(`${local}/file`)) p.push(`Dockerfile.dockerignore: ${local} is sent to the build`);
  }

  const user = last('USER');
  if (!user || !/^[1-9]\d*(:\d+)?$/.test(user)) p.push(`Dockerfile: USER ${user ?? '(none)'} is not a numeric non-root UID`);
  const env: Record<string, string> = {};
  for (const args of all(runtime, 'ENV')) {
    for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)/g)) env[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  for (const name of Object.keys(env)) if (!knownVariable(name)) p.push(`Dockerfile: ENV ${name} is not a Lucida variable`);
  if (env.NODE_ENV !== 'production') p.push('Dockerfile: NODE_ENV is not production');
  const port = Number(env.PORT ?? facts.defaultPort);
  const exposed = all(runtime, 'EXPOSE').flatMap((a) => a.split(/\s+/)).map((x) => Number(x.replace(/\/tcp$/, '')));
  if (!exposed.includes(port)) p.push(`Dockerfile: EXPOSE ${exposed.join(' ')} is not PORT ${port}`);
  const health = last('HEALTHCHECK');
  if (!health) p.push('Dockerfile: no HEALTHCHECK');
  else {
    if (!health.includes(LIVENESS)) p.push(`Dockerfile: the HEALTHCHECK does not probe ${LIVENESS}`);
    if (!health.includes('process.env.PORT') && !health.includes(String(port))) p.push('Dockerfile: the HEALTHCHECK does not probe PORT');
  }
  const entrypoint = execForm(last('ENTRYPOINT') ?? '') ?? [];
  if (!entrypoint.includes('services/cli.ts')) p.push('Dockerfile: the ENTRYPOINT does not run services/cli.ts (exec form)');
  const cmd = execForm(last('CMD') ?? '');
  if (!cmd || cmd.length !== 1 || !facts.commands.has(cmd[0])) p.push(`Dockerfile: CMD ${last('CMD')} is not a command of services/cli.ts`);
  return p;
}

// ---------------------------------------------------------------------------------------------
// Compose

interface ComposeModel {
  env: Record<string, string>;
  seen: Interpolation;
  compose: Json;
  tls: Json;
  /** Every file under docker/ but secrets, by path relative to docker/. */
  files: Record<string, string>;
}

function loadCompose(env = readEnvFile(path.join(DOCKER, '.env.example'))): ComposeModel {
  const seen: Interpolation = { referenced: new Set(), unset: new Set() };
  const files: Record<string, string> = {};
  const walk = (dir: string) => {
    for (const name of readdirSync(path.join(DOCKER, dir))) {
      const rel = dir ? `${dir}/${name}` : name;
      if (rel === 'secrets') continue;
      if (statSync(path.join(DOCKER, rel)).isDirectory()) walk(rel);
      else files[rel] = readFileSync(path.join(DOCKER, rel), 'utf8');
    }
  };
  walk('');
  return {
    env, seen, files,
    compose: interpolate(readYaml(path.join(DOCKER, 'compose.yaml')), env, seen),
    tls: interpolate(readYaml(path.join(DOCKER, 'compose.tls.yaml')), env, seen),
  };
}

/** A service's environment (map or list form); a bare name (passed through from the shell) is unset. */
function environmentOf(service: Json): Record<string, string | undefined> {
  const e = service.environment ?? {};
  if (!Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? undefined : String(v)]));
  return Object.fromEntries(e.map((item: string) => {
    const i = item.indexOf('=');
    return i < 0 ? [item, undefined] : [item.slice(0, i), item.slice(i + 1)];
  }));
}

const secretNames = (service: Json): string[] => (service.secrets ?? []).map((s: string | { source: string }) => (typeof s === 'string' ? s : s.source));
/** `./x:/y:ro` volume entries as {source (relative to docker/), target}. */
const bindMounts = (service: Json) => (service.volumes ?? []).filter((v: unknown) => typeof v === 'string' && v.startsWith('./'))
  .map((v: string) => ({ source: v.split(':')[0].slice(2), target: v.split(':')[1] }));

function composeProblems(m: ComposeModel): string[] {
  const p: string[] = [];
  const services: Record<string, Json> = m.compose.services ?? {};
  for (const name of m.seen.unset) p.push(`compose: \${${name}} is neither in .env.example nor given a default`);
  for (const name of Object.keys(m.env)) if (!m.seen.referenced.has(name)) p.push(`.env.example: ${name} is used by no compose file`);

  const roles: Record<string, string> = { migrate: 'migrate', api: 'serve', worker: 'worker' };
  const lucida = Object.entries(services).filter(([, s]) => s.build?.dockerfile === 'docker/Dockerfile');
  const names = lucida.map(([n]) => n).sort();
  if (names.join() !== Object.keys(roles).sort().join()) p.push(`compose: the Lucida services are ${names.join(', ')}, not api, migrate, worker`);
  const port = (s: Json) => Number(environmentOf(s).PORT ?? facts.defaultPort);

  for (const [name, s] of lucida) {
    const env = environmentOf(s);
    for (const key of Object.keys(env)) if (!knownVariable(key)) p.push(`compose ${name}: ${key} is not a Lucida variable`);
    for (const key of FILE_VARIABLES.filter((k) => env[k] !== undefined)) {
      const secret = /^\/run\/secrets\/(.+)$/.exec(env[key]!)?.[1];
      if (!secret || !secretNames(s).includes(secret)) p.push(`compose ${name}: ${key}=${env[key]} is not one of its secrets`);
      else if (!m.compose.secrets?.[secret]?.file) p.push(`compose: secret ${secret} has no file`);
    }
    const command = s.command?.[0];
    if (!facts.commands.has(command)) p.push(`compose ${name}: "${command}" is not a command of services/cli.ts`);
    else if (roles[name] && command !== roles[name]) p.push(`compose ${name}: runs ${command}, not ${roles[name]}`);
    if (s.expose && !s.expose.map(String).includes(String(port(s)))) p.push(`compose ${name}: exposes ${s.expose} but PORT is ${port(s)}`);
    if (name === 'migrate') continue;
    for (const v of PRODUCTION) if (!provided(env, v)) p.push(`compose ${name}: ${v} is not provided`);
    if (s.container_name) p.push(`compose ${name}: container_name prevents --scale`);
    for (const binding of s.ports ?? []) {
      if (typeof binding === 'object' ? binding.published !== undefined : String(binding).includes(':')) {
        p.push(`compose ${name}: fixed host port ${JSON.stringify(binding)} prevents --scale`);
      }
    }
  }

  const condition = (s: string, on: string) => services[s]?.depends_on?.[on]?.condition;
  for (const s of ['api', 'worker']) {
    for (const once of ['migrate', 'minio-init']) {
      if (condition(s, once) !== 'service_completed_successfully') p.push(`compose ${s}: does not wait for ${once} to complete`);
    }
  }
  if (condition('migrate', 'postgres') !== 'service_healthy') p.push('compose migrate: does not wait for postgres to be healthy');
  if (condition('minio-init', 'minio') !== 'service_healthy') p.push('compose minio-init: does not wait for minio to be healthy');
  for (const s of ['postgres', 'minio']) if (!services[s]?.healthcheck?.test) p.push(`compose ${s}: no healthcheck`);

  // Object store: Lucida's endpoint is the minio service; its bucket is the one minio-init makes.
  const api = environmentOf(services.api ?? {});
  const endpoint = api.S3_ENDPOINT ? new URL(api.S3_ENDPOINT) : undefined;
  if (!endpoint || !services[endpoint.hostname]) p.push(`compose: S3_ENDPOINT ${api.S3_ENDPOINT} is not a compose service`);
  const init = services['minio-init'] ?? {};
  const script = bindMounts(init).find((b: { target: string }) => (init.entrypoint ?? []).includes(b.target));
  const text = script ? m.files[script.source] : undefined;
  if (!text) p.push('compose minio-init: its entrypoint script is not a file under docker/');
  else {
    const initEnv = environmentOf(init);
    const expand = (word: string) => word.replace(/"/g, '').replace(/\$\{?([A-Za-z_]\w*)\}?/g, (_, v: string) => initEnv[v] ?? '');
    const bucketOf = (re: RegExp) => { const w = re.exec(text)?.[1]; return w === undefined ? undefined : expand(w).replace(/^local\//, ''); };
    const made = bucketOf(/^\s*mc mb\b.*\s("?local\/\S+)/m);
    const versioned = bucketOf(/^\s*mc version enable\s+("?local\/\S+)/m);
    if (!made || made !== api.S3_BUCKET) p.push(`compose minio-init: makes bucket ${made}, Lucida uses S3_BUCKET ${api.S3_BUCKET}`);
    if (versioned !== made) p.push(`compose minio-init: versioning is enabled on ${versioned}, not on ${made}`);
  }

  // Database: the URL make-secrets.sh writes names the postgres service, its user and database.
  const pg = services.postgres ?? {};
  const url = /postgres:\/\/([^:]+):%s@([^:/]+):(\d+)\/(\w+)/.exec(m.files['make-secrets.sh'] ?? '');
  const pgEnv = environmentOf(pg);
  if (!url || url[1] !== pgEnv.POSTGRES_USER || url[4] !== pgEnv.POSTGRES_DB || !services[url[2]]?.image?.startsWith('postgres')) {
    p.push(`compose: the database_url made by make-secrets.sh (${url?.[0]}) is not the postgres service's user and database`);
  }
  const made = new Set([...(m.files['make-secrets.sh'] ?? '').matchAll(/^make (\S+)/gm)].map((x) => x[1]));
  for (const [secret, def] of Object.entries<Json>(m.compose.secrets ?? {})) {
    if (!made.has(path.posix.basename(def.file ?? ''))) p.push(`compose: secret ${secret} (${def.file}) is not made by make-secrets.sh`);
  }

  // The proxy balances over the api service on its PORT, and is the only published port.
  const proxy = services.proxy ?? {};
  for (const b of bindMounts(proxy)) if (m.files[b.source] === undefined) p.push(`compose proxy: mounts ${b.source}, which is not under docker/`);
  const upstream = /^\s*server\s+([\w.-]+):(\d+)\s[^;]*\bresolve\b/m.exec(m.files['nginx/lucida-upstream.conf'] ?? '');
  if (!upstream || upstream[1] !== 'api' || Number(upstream[2]) !== port(services.api ?? {})) {
    p.push(`nginx: the upstream (${upstream?.[0]?.trim()}) is not the api service on its PORT, re-resolved`);
  }
  if (!(proxy.ports ?? []).length) p.push('compose proxy: publishes no port');
  // Metrics stay off the public entrance, in every spelling Express routes by default (any case,
  // a trailing slash; nginx matches after decoding %XX and merging slashes), while the rest of
  // what Lucida serves is proxied.
  const locations = nginxLocations(m.files['nginx/lucida-locations.conf'] ?? '');
  const body = (uri: string) => nginxLocationFor(locations, uri)?.body ?? '';
  for (const metrics of facts.metricsPaths) {
    const capitalised = `/${metrics[1].toUpperCase()}${metrics.slice(2)}`;
    for (const uri of [metrics, `${metrics}/`, metrics.toUpperCase(), `${metrics.toUpperCase()}/`, capitalised]) {
      if (!/\breturn\s+404\b/.test(body(uri))) p.push(`nginx: ${uri} reaches the API (metrics are not for the public entrance)`);
    }
  }
  for (const uri of [...facts.healthPaths, '/dicomweb/studies', '/wado', '/api/captures', '/viewer/']) {
    if (!/\bproxy_pass\s+http:\/\/lucida_api\s*;/.test(body(uri))) p.push(`nginx: ${uri} is not proxied to the API`);
  }
  const tlsSecrets = secretNames(m.tls.services?.proxy ?? {});
  for (const [, file] of (m.files['nginx/lucida-https.conf'] ?? '').matchAll(/ssl_certificate(?:_key)?\s+\/run\/secrets\/(\S+);/g)) {
    if (!tlsSecrets.includes(file) || !m.tls.secrets?.[file]?.file) p.push(`compose.tls.yaml: nginx reads secret ${file}, which the proxy is not given`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

interface K8sModel { kustomization: Json; docs: K8sDoc[]; files: string[] }

function loadK8s(): K8sModel {
  const dir = path.join(DOCKER, 'k8s');
  return { ...readKustomization(dir), files: readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) };
}

const matches = (selector: Record<string, string> = {}, labels: Record<string, string> = {}) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);

function k8sProblems(m: K8sModel): string[] {
  const p: string[] = [];
  const resources: string[] = m.kustomization.resources ?? [];
  for (const f of m.files) if (f !== 'kustomization.yaml' && !resources.includes(f)) p.push(`k8s: ${f} is not in kustomization.yaml`);
  const docs = m.docs as Json[];
  const configMaps = new Map<string, Record<string, string>>(docs.filter((d) => d.kind === 'ConfigMap').map((d) => [d.metadata.name, d.data ?? {}]));
  const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'Job');
  const deployments = workloads.filter((d) => d.kind === 'Deployment');
  const commandOf = (w: Json) => w.spec.template.spec.containers[0]?.args?.[0];
  for (const [kind, command] of [['Deployment', 'serve'], ['Deployment', 'worker'], ['Job', 'migrate']]) {
    if (!workloads.some((w) => w.kind === kind && commandOf(w) === command)) p.push(`k8s: no ${kind} runs ${command}`);
  }
  const images = new Set(workloads.flatMap((w) => w.spec.template.spec.containers.map((c: Json) => c.image)));
  const kustomized = (m.kustomization.images ?? []).map((i: Json) => i.name);
  if (images.size !== 1 || !kustomized.includes([...images][0])) p.push(`k8s: images ${[...images].join(', ')} are not the one image kustomization.yaml sets`);

  for (const w of workloads) {
    const pod = w.spec.template.spec;
    const where = `k8s ${w.kind} ${w.metadata.name}`;
    const volumes = new Map<string, Json>((pod.volumes ?? []).map((v: Json) => [v.name, v]));
    for (const c of pod.containers) {
      const env: Record<string, string | undefined> = {};
      for (const from of c.envFrom ?? []) {
        if (from.configMapRef) {
          const data = configMaps.get(from.configMapRef.name);
          if (!data) p.push(`${where}: ConfigMap ${from.configMapRef.name} is not among the manifests`);
          Object.assign(env, data);
        }
      }
      for (const e of c.env ?? []) env[e.name] = e.value ?? (e.valueFrom ? '(from a reference)' : undefined);
      for (const key of Object.keys(env)) if (!knownVariable(key)) p.push(`${where}: ${key} is not a Lucida variable`);
      const role = c.args?.[0];
      if (!facts.commands.has(role)) p.push(`${where}: "${role}" is not a command of services/cli.ts`);
      if (w.kind === 'Deployment') for (const v of PRODUCTION) if (!provided(env, v)) p.push(`${where}: ${v} is not provided`);

      const mounts: Json[] = c.volumeMounts ?? [];
      const mountedFrom = (file: string, kind: (v: Json) => boolean) => mounts.some((mt) =>
        (file === mt.mountPath || file.startsWith(`${mt.mountPath.replace(/\/$/, '')}/`)) && volumes.has(mt.name) && kind(volumes.get(mt.name)));
      const isSecret = (v: Json) => Boolean(v.secret || v.projected?.sources?.some((s: Json) => s.secret));
      for (const key of FILE_VARIABLES.filter((k) => env[k])) {
        if (!mountedFrom(env[key]!, isSecret)) p.push(`${where}: ${key}=${env[key]} is not in a mounted Secret`);
      }
      // Node only warns when the file is missing, and then MinIO's or Postgres's certificate is refused.
      if (env.NODE_EXTRA_CA_CERTS && !mountedFrom(env.NODE_EXTRA_CA_CERTS, (v) => Boolean(v.configMap || v.secret || v.projected))) {
        p.push(`${where}: NODE_EXTRA_CA_CERTS=${env.NODE_EXTRA_CA_CERTS} is not in a mounted ConfigMap or Secret`);
      }
      for (const dir of [env.DATA_DIR ?? '/data', '/tmp']) {
        if (!mounts.some((mt) => mt.mountPath === dir && volumes.get(mt.name)?.emptyDir)) p.push(`${where}: ${dir} is not an emptyDir (the root filesystem is read-only)`);
      }
      const sc = c.securityContext ?? {};
      if (!(sc.runAsNonRoot ?? pod.securityContext?.runAsNonRoot)) p.push(`${where}: runAsNonRoot is not set`);
      if (sc.readOnlyRootFilesystem !== true) p.push(`${where}: the root filesystem is writable`);
      if (sc.allowPrivilegeEscalation !== false) p.push(`${where}: privilege escalation is allowed`);
      const r = c.resources ?? {};
      if (!r.requests?.cpu || !r.requests?.memory || !r.limits?.memory) p.push(`${where}: resource requests (cpu, memory) or memory limit missing`);
      if (w.kind !== 'Deployment') continue;

      if ((w.spec.replicas ?? 1) < 2) p.push(`${where}: fewer than 2 replicas`);
      const port = Number(env.PORT ?? facts.defaultPort);
      const ports: Json[] = c.ports ?? [];
      if (!ports.some((x) => x.containerPort === port)) p.push(`${where}: no containerPort is PORT ${port}`);
      const portOf = (ref: number | string) => (typeof ref === 'number' ? ref : ports.find((x) => x.name === ref)?.containerPort);
      const probe = (name: string, expected?: string) => {
        const get = c[name]?.httpGet;
        if (!get) { if (expected) p.push(`${where}: no ${name}`); return; }
        if (expected ? get.path !== expected : !facts.healthPaths.has(get.path)) p.push(`${where}: ${name} probes ${get.path}, not ${expected ?? [...facts.healthPaths].join(' or ')}`);
        if (portOf(get.port) !== port) p.push(`${where}: ${name} probes port ${get.port}, not PORT ${port}`);
      };
      probe('readinessProbe', READINESS);
      probe('livenessProbe', LIVENESS);
      probe('startupProbe');
      const a = w.spec.template.metadata?.annotations ?? {};
      if (a['prometheus.io/scrape'] !== 'true' || Number(a['prometheus.io/port']) !== port || !facts.metricsPaths.has(a['prometheus.io/path'])) {
        p.push(`${where}: the Prometheus annotations do not point at /metrics on PORT ${port}`);
      }
      const preStop = c.lifecycle?.preStop;
      const preStopSeconds = Number(preStop?.sleep?.seconds ?? (preStop?.exec?.command?.[0] === 'sleep' ? preStop.exec.command[1] : 0));
      const grace = pod.terminationGracePeriodSeconds ?? 30;
      if (grace < preStopSeconds + facts.drainSeconds + QUEUE_STOP_SECONDS) {
        p.push(`${where}: terminationGracePeriodSeconds ${grace} < preStop ${preStopSeconds} s + drain ${facts.drainSeconds} s + queue stop ${QUEUE_STOP_SECONDS} s`);
      }
    }
  }

  const api = deployments.find((d) => commandOf(d) === 'serve');
  const apiPorts: Json[] = api?.spec.template.spec.containers[0].ports ?? [];
  const services = docs.filter((d) => d.kind === 'Service');
  if (!services.some((s) => matches(s.spec.selector, api?.spec.template.metadata.labels))) p.push('k8s: no Service selects the API pods');
  for (const s of services) {
    const target = deployments.find((d) => matches(s.spec.selector, d.spec.template.metadata.labels));
    if (!target) { p.push(`k8s Service ${s.metadata.name}: selects no Deployment`); continue; }
    const ports: Json[] = target === api ? apiPorts : target.spec.template.spec.containers[0].ports ?? [];
    for (const sp of s.spec.ports ?? []) {
      if (!ports.some((x) => x.name === sp.targetPort || x.containerPort === sp.targetPort)) p.push(`k8s Service ${s.metadata.name}: targetPort ${sp.targetPort} is no container port`);
    }
  }
  for (const pdb of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
    if (!deployments.some((d) => matches(pdb.spec.selector?.matchLabels, d.spec.template.metadata.labels))) p.push(`k8s PodDisruptionBudget ${pdb.metadata.name}: selects no Deployment`);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------

const DOCKERFILE = read('docker/Dockerfile');
const DOCKERIGNORE = read('docker/Dockerfile.dockerignore');
const LOCATIONS = 'nginx/lucida-locations.conf';

/** Edits the proxy's locations file, failing if the text to replace is not there. */
function editLocations(m: ComposeModel, from: string, to: string): void {
  if (!m.files[LOCATIONS].includes(from)) throw new Error(`${LOCATIONS} has no "${from}"`);
  m.files[LOCATIONS] = m.files[LOCATIONS].replace(from, to);
}

describe('deployment files (docker/)', () => {
  it('check against what the code has: variables, commands, probe and metrics paths, the drain', () => {
    expect(facts.variables.has('DATABASE_URL')).toBe(true);
    expect([...facts.commands]).toEqual(expect.arrayContaining(['serve', 'worker', 'migrate', 'all']));
    expect([...facts.healthPaths].sort()).toEqual([LIVENESS, READINESS]);
    expect(facts.metricsPaths.has('/metrics')).toBe(true);
    expect(facts.drainSeconds).toBeGreaterThan(0);
  });

  it('the Dockerfile builds the viewer in a build stage and runs production dependencies as a numeric non-root user', () => {
    expect(dockerfileProblems(DOCKERFILE, DOCKERIGNORE)).toEqual([]);
  });

  it('compose.yaml runs scalable api and worker services wired to postgres, minio and the proxy', () => {
    expect(composeProblems(loadCompose())).toEqual([]);
  });

  it('the Kubernetes manifests probe, secure, size and expose the api and worker as the code expects', () => {
    const model = loadK8s();
    expect(model.docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual([
      'ConfigMap/lucida-config', 'Deployment/lucida-api', 'Deployment/lucida-worker', 'Job/lucida-migrate',
      'Namespace/lucida', 'PodDisruptionBudget/lucida-api', 'PodDisruptionBudget/lucida-worker', 'Service/lucida-api']);
    expect(k8sProblems(model)).toEqual([]);
  });

  it('Node\'s own variables may be set: a CA bundle for an internal CA, mounted from a ConfigMap', () => {
    const compose = loadCompose();
    Object.assign(compose.compose.services.api.environment, { NODE_EXTRA_CA_CERTS: '/etc/lucida/ca/ca.pem', NODE_OPTIONS: '--max-old-space-size=768', TZ: 'Europe/London' });
    expect(composeProblems(compose)).toEqual([]);
    const k8s = structuredClone(loadK8s());
    (k8s.docs as Json[]).find((d) => d.kind === 'ConfigMap').data.NODE_EXTRA_CA_CERTS = '/etc/lucida/ca/ca.pem';
    for (const w of (k8s.docs as Json[]).filter((d) => d.kind === 'Deployment' || d.kind === 'Job')) {
      w.spec.template.spec.volumes.push({ name: 'trust-ca', configMap: { name: 'trust-ca' } });
      w.spec.template.spec.containers[0].volumeMounts.push({ name: 'trust-ca', mountPath: '/etc/lucida/ca', readOnly: true });
    }
    expect(k8sProblems(k8s)).toEqual([]);
  });

  it('docker/session-key.mjs makes a session key that the API loads', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lucida-session-key-'));
    try {
      const { stdout } = await promisify(execFile)(process.execPath, [path.join(DOCKER, 'session-key.mjs')]);
      const keyFile = path.join(dir, 'session_key.json');
      writeFileSync(keyFile, stdout);
      const key = await loadSessionKey({ dataDir: dir, session: { keyFile } });
      expect(key.publicJwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256' });
      expect(key.publicJwk.d).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Each check, given the files with one mistake made, reports it. */
describe('the deployment checks find the mistakes they are for', () => {
  const dockerfileCases: { mistake: string; edit: (d: string) => string; ignore?: (i: string) => string; expected: RegExp }[] = [
    { mistake: 'one stage', edit: (d) => d.replace(/^FROM \$\{NODE_IMAGE\} AS runtime$/m, ''), expected: /viewer/ },
    { mistake: 'devDependencies at run time', edit: (d) => d.replace('npm ci --omit=dev', 'npm ci'), expected: /--omit=dev/ },
    { mistake: 'viewer not copied', edit: (d) => d.replace(/^COPY --from=build .*$/m, ''), expected: /viewer\/dist/ },
    { mistake: 'root user', edit: (d) => d.replace(/^USER .*$/m, 'USER root'), expected: /USER root/ },
    { mistake: 'no user', edit: (d) => d.replace(/^USER .*$/m, ''), expected: /USER \(none\)/ },
    { mistake: 'healthcheck path', edit: (d) => d.replace("'/healthz'", "'/health'"), expected: /HEALTHCHECK does not probe \/healthz/ },
    { mistake: 'exposed port', edit: (d) => d.replace('EXPOSE 8080', 'EXPOSE 3000'), expected: /EXPOSE 3000/ },
    { mistake: 'unknown command', edit: (d) => d.replace('CMD ["serve"]', 'CMD ["server"]'), expected: /CMD/ },
    { mistake: 'NODE_ENV', edit: (d) => d.replace('NODE_ENV=production', 'NODE_ENV=development'), expected: /NODE_ENV/ },
    { mistake: 'schemas not copied', edit: (d) => d.replace(/^COPY schemas .*$/m, ''), expected: /COPY schemas/ },
    { mistake: 'typo in ENV', edit: (d) => d.replace('DATA_DIR=/data', 'DATADIR=/data'), expected: /DATADIR/ },
    { mistake: 'source ignored', edit: (d) => d, ignore: (i) => `${i}\nschemas\n`, expected: /COPY schemas: excluded/ },
    { mistake: 'node_modules sent', edit: (d) => d, ignore: (i) => i.replace(/^\*$/m, '').replace(/^(\*\*\/)?node_modules$/gm, ''), expected: /node_modules is sent/ },
  ];
  it.each(dockerfileCases)('Dockerfile: $mistake', ({ edit, ignore, expected }) => {
    const problems = dockerfileProblems(edit(DOCKERFILE), (ignore ?? ((i) => i))(DOCKERIGNORE));
    expect(problems.join('\n')).toMatch(expected);
  });

  const composeCases: { mistake: string; edit: (m: ComposeModel) => ComposeModel | void; expected: RegExp }[] = [
    { mistake: 'typo in a variable', edit: (m) => { m.compose.services.worker.environment.S3_BUKET = 'x'; }, expected: /worker: S3_BUKET is not a Lucida variable/ },
    { mistake: 'production setting missing', edit: (m) => { delete m.compose.services.worker.environment.AUTH_ROLE_MAP; }, expected: /worker: AUTH_ROLE_MAP is not provided/ },
    { mistake: 'secret not given', edit: (m) => { m.compose.services.api.secrets = ['database_url']; }, expected: /api: S3_ACCESS_KEY_FILE/ },
    { mistake: 'container_name', edit: (m) => { m.compose.services.api.container_name = 'lucida-api'; }, expected: /api: container_name/ },
    { mistake: 'fixed host port', edit: (m) => { m.compose.services.api.ports = ['8080:8080']; }, expected: /api: fixed host port/ },
    { mistake: 'wrong command', edit: (m) => { m.compose.services.worker.command = ['serve']; }, expected: /worker: runs serve, not worker/ },
    { mistake: 'no wait for migrate', edit: (m) => { delete m.compose.services.api.depends_on.migrate; }, expected: /api: does not wait for migrate/ },
    { mistake: 'other bucket', edit: (m) => { m.compose.services['minio-init'].environment.S3_BUCKET = 'photos'; }, expected: /makes bucket photos/ },
    { mistake: 'port not proxied', edit: (m) => { for (const s of ['api', 'worker', 'migrate']) m.compose.services[s].environment.PORT = '9090'; }, expected: /upstream/ },
    { mistake: 'variable not in .env.example', edit: (m) => { const { PUBLIC_BASE_URL: _, ...env } = m.env; return loadCompose(env); }, expected: /\$\{PUBLIC_BASE_URL\}/ },
    { mistake: 'unused .env.example entry', edit: (m) => loadCompose({ ...m.env, S3_BUKET: 'x' }), expected: /\.env\.example: S3_BUKET/ },
    { mistake: 'database user', edit: (m) => { m.compose.services.postgres.environment.POSTGRES_USER = 'pacs'; }, expected: /database_url/ },
    { mistake: 'TLS secret', edit: (m) => { m.tls.services.proxy.secrets = ['tls_certificate']; }, expected: /tls_private_key/ },
    { mistake: 'typo in a Node variable', edit: (m) => { m.compose.services.api.environment.NODE_EXTRA_CA_CERT = '/ca.pem'; }, expected: /api: NODE_EXTRA_CA_CERT is not a Lucida variable/ },
    ...([
      ['exact-match metrics block', 'location = /metrics', /^(?=[^]*nginx: \/METRICS reaches the API)(?=[^]*nginx: \/metrics\/ reaches the API)/],
      ['case-sensitive metrics block', 'location ~ ^/metrics/?$', /nginx: \/METRICS reaches the API/],
      ['metrics block without the trailing slash', 'location ~* ^/metrics$', /nginx: \/metrics\/ reaches the API/],
    ] as const).map(([mistake, block, expected]) => ({
      mistake, expected, edit: (m: ComposeModel) => editLocations(m, 'location ~* ^/metrics/?$', block),
    })),
    { mistake: 'catch-all marked ^~', edit: (m) => editLocations(m, 'location / {', 'location ^~ / {'), expected: /nginx: \/metrics reaches the API/ },
    { mistake: 'only DICOMweb proxied', edit: (m) => editLocations(m, 'location / {', 'location /dicomweb/ {'), expected: /nginx: \/healthz is not proxied/ },
  ];
  it.each(composeCases)('compose: $mistake', ({ edit, expected }) => {
    const model = loadCompose();
    expect(composeProblems(edit(model) ?? model).join('\n')).toMatch(expected);
  });

  type Pod = Json;
  const podOf = (m: K8sModel, name: string): Pod => (m.docs as Json[]).find((d) => d.metadata.name === name && d.kind !== 'Service' && d.kind !== 'PodDisruptionBudget').spec.template.spec;
  const k8sCases: { mistake: string; edit: (m: K8sModel) => void; expected: RegExp }[] = [
    { mistake: 'readiness path', edit: (m) => { podOf(m, 'lucida-api').containers[0].readinessProbe.httpGet.path = '/ready'; }, expected: /readinessProbe probes \/ready,/ },
    { mistake: 'liveness port', edit: (m) => { podOf(m, 'lucida-worker').containers[0].livenessProbe.httpGet.port = 9090; }, expected: /livenessProbe probes port 9090/ },
    { mistake: 'typo in the ConfigMap', edit: (m) => { (m.docs as Json[]).find((d) => d.kind === 'ConfigMap').data.AUTH_JWKS = 'x'; }, expected: /AUTH_JWKS is not a Lucida variable/ },
    { mistake: 'production setting missing', edit: (m) => { delete (m.docs as Json[]).find((d) => d.kind === 'ConfigMap').data.SESSION_KEY_FILE; }, expected: /SESSION_KEY_FILE is not provided/ },
    { mistake: 'secret file not mounted', edit: (m) => { podOf(m, 'lucida-worker').containers[0].volumeMounts.pop(); }, expected: /DATABASE_URL_FILE=.* is not in a mounted Secret/ },
    { mistake: 'writable root', edit: (m) => { podOf(m, 'lucida-api').containers[0].securityContext.readOnlyRootFilesystem = false; }, expected: /root filesystem is writable/ },
    { mistake: 'no /tmp', edit: (m) => { podOf(m, 'lucida-migrate').containers[0].volumeMounts.splice(1, 1); }, expected: /\/tmp is not an emptyDir/ },
    { mistake: 'container port', edit: (m) => { podOf(m, 'lucida-api').containers[0].ports[0].containerPort = 3000; }, expected: /no containerPort is PORT 8080/ },
    { mistake: 'short grace period', edit: (m) => { podOf(m, 'lucida-api').terminationGracePeriodSeconds = 10; }, expected: /terminationGracePeriodSeconds 10/ },
    { mistake: 'no limits', edit: (m) => { delete podOf(m, 'lucida-worker').containers[0].resources.limits; }, expected: /memory limit missing/ },
    { mistake: 'scrape port', edit: (m) => { (m.docs as Json[]).find((d) => d.metadata.name === 'lucida-api' && d.kind === 'Deployment').spec.template.metadata.annotations['prometheus.io/port'] = '9100'; }, expected: /Prometheus/ },
    { mistake: 'Service target', edit: (m) => { (m.docs as Json[]).find((d) => d.kind === 'Service').spec.ports[0].targetPort = 'web'; }, expected: /targetPort web/ },
    { mistake: 'unknown command', edit: (m) => { podOf(m, 'lucida-migrate').containers[0].args = ['migrations']; }, expected: /"migrations" is not a command/ },
    { mistake: 'one replica', edit: (m) => { (m.docs as Json[]).find((d) => d.metadata.name === 'lucida-worker' && d.kind === 'Deployment').spec.replicas = 1; }, expected: /fewer than 2 replicas/ },
    { mistake: 'typo in a Node variable', edit: (m) => { (m.docs as Json[]).find((d) => d.kind === 'ConfigMap').data.TZZ = 'Europe/London'; }, expected: /TZZ is not a Lucida variable/ },
    { mistake: 'CA bundle not mounted', edit: (m) => { (m.docs as Json[]).find((d) => d.kind === 'ConfigMap').data.NODE_EXTRA_CA_CERTS = '/etc/lucida/ca/ca.pem'; }, expected: /NODE_EXTRA_CA_CERTS=\/etc\/lucida\/ca\/ca.pem is not in a mounted ConfigMap or Secret/ },
    { mistake: 'manifest left out', edit: (m) => { m.kustomization.resources = m.kustomization.resources.filter((r: string) => r !== 'worker.yaml'); }, expected: /worker.yaml is not in kustomization/ },
  ];
  it.each(k8sCases)('k8s: $mistake', ({ edit, expected }) => {
    const model = structuredClone(loadK8s());
    edit(model);
    expect(k8sProblems(model).join('\n')).toMatch(expected);
  });
});
