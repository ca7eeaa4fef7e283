/**
 * Readers for the deployment files under docker/ (no Docker engine or cluster needed): Compose's
 * variable interpolation, a Dockerfile's stages and instructions, a .dockerignore's matching, the
 * documents of a kustomization. Just enough of each format for test/integration/deployment.test.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

/** `KEY=value` lines of an env file (Compose's .env): no quotes, no export, # comments. */
export function readEnvFile(file: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) vars[m[1]] = m[2].trim();
  }
  return vars;
}

export interface Interpolation {
  /** Variables named anywhere in the file. */
  referenced: Set<string>;
  /** Variables that are unset with no default (Compose substitutes "" or, with `?`, refuses). */
  unset: Set<string>;
}

/**
 * Compose's interpolation (compose-spec, "Interpolation"): `$$`, `$VAR`, `${VAR}`,
 * `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`, `${VAR:+alt}`,
 * `${VAR+alt}`, applied to every string of the parsed file.
 */
export function interpolate<T>(value: T, vars: Record<string, string>, seen: Interpolation): T {
  const one = (text: string) => text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (all, braced?: string, colon?: string, op?: string, word?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = (braced ?? bare)!;
      seen.referenced.add(name);
      const set = name in vars && (colon ? vars[name] !== '' : true);
      if (op === '-') return set ? vars[name] : word!;
      if (op === '+') return set ? word! : '';
      if (!set && (op === '?' || !(name in vars))) seen.unset.add(name);
      return vars[name] ?? '';
    });
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return one(v);
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  return walk(value) as T;
}

/** A Compose file, merge keys (`<<: *anchor`) resolved as Compose resolves them. */
export function readYaml(file: string): Record<string, unknown> {
  return parse(readFileSync(file, 'utf8'), { merge: true }) as Record<string, unknown>;
}

export interface DockerInstruction { keyword: string; args: string }
export interface DockerStage { image: string; name?: string; instructions: DockerInstruction[] }

/** A Dockerfile's build stages: continuation lines joined, comments dropped, ARGs before FROM left out. */
export function parseDockerfile(text: string): DockerStage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // comments, also inside a continued instruction
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole) logical.push(whole);
  }
  const stages: DockerStage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    if (keyword.toUpperCase() === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)!;
      stages.push({ image: m[1], name: m[2], instructions: [] });
    } else if (stages.length) {
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** A JSON-array (exec form) argument, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  try {
    const v = JSON.parse(args) as unknown;
    return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A .dockerignore as BuildKit applies it (moby/patternmatcher): patterns are globs on paths
 * relative to the context (`*` and `?` within a segment, `**` across segments), a pattern that
 * matches a parent directory matches everything under it, and the last matching pattern decides
 * (`!` re-includes).
 */
export function dockerignore(text: string): (relativePath: string) => boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pattern = path.posix.normalize((negate ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
    const source = pattern.split(/(\*\*\/|\*\*|\*|\?)/).map((part) => {
      if (part === '**/') return '(?:.*/)?';
      if (part === '**') return '.*';
      if (part === '*') return '[^/]*';
      if (part === '?') return '[^/]';
      return part.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }).join('');
    return { negate, re: new RegExp(`^${source}$`) };
  });
  return (relativePath) => {
    const segments = relativePath.split('/');
    const candidates = segments.map((_, i) => segments.slice(0, i + 1).join('/'));
    let excluded = false;
    for (const { negate, re } of rules) {
      if (candidates.some((c) => re.test(c))) excluded = !negate;
    }
    return excluded;
  };
}

export interface K8sDoc { file: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; [k: string]: unknown }

/** Every document of the resources a kustomization.yaml lists (plain files only). */
export function readKustomization(dir: string): { kustomization: Record<string, unknown>; docs: K8sDoc[] } {
  const kustomization = readYaml(path.join(dir, 'kustomization.yaml'));
  const docs: K8sDoc[] = [];
  for (const file of (kustomization.resources as string[]) ?? []) {
    for (const doc of parseAllDocuments(readFileSync(path.join(dir, file), 'utf8'))) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const value = doc.toJS() as K8sDoc | null;
      if (value) docs.push({ ...value, file });
    }
  }
  return { kustomization, docs };
}

export interface NginxLocation { modifier: '' | '=' | '^~' | '~' | '~*'; pattern: string; body: string }

/** The `location` blocks of an nginx file (one level: blocks without nested braces), in order. */
export function nginxLocations(text: string): NginxLocation[] {
  const uncommented = text.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '')).join('\n');
  return [...uncommented.matchAll(/\blocation\s+(=|\^~|~\*|~)?\s*(\S+)\s*\{([^{}]*)\}/g)]
    .map((m) => ({ modifier: (m[1] ?? '') as NginxLocation['modifier'], pattern: m[2], body: m[3] }));
}

/**
 * The location nginx picks for a normalized URI (ngx_http_core_module, "location"): an exact
 * match (=) at once; else the longest matching prefix is remembered, and used at once if marked
 * ^~; else the regular expressions (~ case-sensitive, ~* case-insensitive) are tried in the order
 * they appear and the first match is used; else the remembered prefix.
 */
export function nginxLocationFor(locations: NginxLocation[], uri: string): NginxLocation | undefined {
  const exact = locations.find((l) => l.modifier === '=' && l.pattern === uri);
  if (exact) return exact;
  const prefix = locations.filter((l) => (l.modifier === '' || l.modifier === '^~') && uri.startsWith(l.pattern))
    .sort((a, b) => b.pattern.length - a.pattern.length)[0];
  if (prefix?.modifier === '^~') return prefix;
  const regex = locations.find((l) => (l.modifier === '~' || l.modifier === '~*')
    && new RegExp(l.pattern, l.modifier === '~*' ? 'i' : '').test(uri));
  return regex ?? prefix;
}
