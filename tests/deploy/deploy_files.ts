// The deployment files under deploy/ as data for the deploy tests: every file, parsed (YAML documents,
// systemd units, Dockerfile instructions), and every `sam-lora <command> <flags...>` invocation they
// make, with shell, Compose, systemd and Kubernetes variables replaced by dummy values.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/fixtures.js';

export const ROOT = repoRoot();
export const DEPLOY = path.join(ROOT, 'deploy');

export function read(rel: string): string {
  return readFileSync(path.join(ROOT, rel), 'utf8');
}

/** Files under deploy/ (repo-relative paths), recursively, dot-directories skipped. */
export function deployFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) {
        if (!name.startsWith('.') && name !== 'assets' && name !== 'runs') walk(full);
      } else {
        out.push(path.relative(ROOT, full));
      }
    }
  };
  walk(DEPLOY);
  return out;
}

export type Obj = Record<string, unknown>;

/** Every YAML document of a file (empty documents dropped); throws on a YAML error, naming the file. */
export function yamlDocs(rel: string): Obj[] {
  const docs = parseAllDocuments(read(rel), { prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${rel}: not a YAML stream`);
  const out: Obj[] = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${rel}: ${d.errors.map((e) => e.message).join('; ')}`);
    const v = d.toJS() as unknown;
    if (v !== null && v !== undefined) out.push(v as Obj);
  }
  return out;
}

export function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what}: expected a mapping, got ${JSON.stringify(v)}`);
  return v as Obj;
}

export function list(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`${what}: expected a list, got ${JSON.stringify(v)}`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Shell words

/**
 * Splits a command line into words the way sh would for our purposes: quotes ('...', "...") and
 * backslash escapes are removed, `$...` expansions are kept as text; operators (&, &&, |, ;) and
 * redirections are separate words. A `#` at the start of a word begins a comment.
 */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  const push = (): void => {
    if (inWord) words.push(cur);
    cur = '';
    inWord = false;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      push();
      i++;
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' in: ${line}`);
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        cur += line[j];
        j++;
      }
      if (j >= line.length) throw new Error(`unterminated " in: ${line}`);
      inWord = true;
      i = j + 1;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[i + 1];
      inWord = true;
      i += 2;
    } else if ((c === '&' || c === '|' || c === ';') && !(c === '&' && cur.endsWith('>'))) {
      push();
      const op = line[i + 1] === c ? c + c : c;
      words.push(op);
      i += op.length;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  push();
  return words;
}

/** Words that end a command: operators, redirections, a closing parenthesis. */
function endsCommand(w: string): boolean {
  return ['&', '&&', '|', '||', ';', ')'].includes(w) || /^\d?>/.test(w) || w.startsWith('<');
}

/**
 * Replaces expansions in a word by dummy values: ${NAME:-default} by its default, $(NAME) (Kubernetes),
 * ${NAME}, $NAME and $((...)) by "1". Command substitutions $(cmd ...) are not expected in flags.
 */
export function substitute(word: string): string {
  return word
    .replace(/\$\(\((?:[^()]|\([^()]*\))*\)\)/g, '1')
    .replace(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}/g, (_m, d: string) => substitute(d))
    .replace(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g, '1')
    .replace(/\$\([A-Za-z_][A-Za-z0-9_]*\)/g, '1')
    .replace(/\$[A-Za-z_][A-Za-z0-9_]*/g, '1');
}

/** Words after which the next word is a command: operators, wrappers, environment assignments. */
function commandPosition(words: readonly string[], i: number): boolean {
  const prev = words[i - 1];
  if (prev === undefined) return true;
  if (['&', '&&', '|', '||', ';', '(', 'then', 'do', 'exec', 'nohup', 'time', 'npx'].includes(prev)) return true;
  if (/^[A-Za-z_][A-Za-z0-9_]*=/.test(prev)) return commandPosition(words, i - 1);
  // srun [options] COMMAND
  return words[0] === 'srun' && words.slice(1, i).every((w) => w.startsWith('-'));
}

/**
 * Where the sam-lora program is in a list of words, or -1: the word `sam-lora` where a command
 * starts, `node .../sam-lora.js`, or an image reference `.../sam-lora:TAG` run by `docker run`
 * (followed by the command).
 */
export function programIndex(words: readonly string[]): number {
  return words.findIndex((w, i) => {
    if (w === 'sam-lora') return commandPosition(words, i);
    if (/(^|\/)sam-lora\.js$/.test(w)) return /(^|\/)node$/.test(words[i - 1] ?? '');
    if (/(^|\/)sam-lora:[\w.-]+$/.test(w)) return words.slice(0, i).includes('run') && i + 1 < words.length && !endsCommand(words[i + 1]!);
    return false;
  });
}

export interface Invocation {
  /** Where it was found, for messages. */
  source: string;
  /** The words after the program: the command and its flags, variables substituted. */
  argv: string[];
}

/**
 * The sam-lora invocation in a list of words (the words after the program, up to the end of the
 * command), or undefined when the words do not run sam-lora. Shell arrays ("${NAME[@]}") expand to
 * the words of `arrays[NAME]`.
 */
export function invocationIn(words: string[], arrays: Record<string, string[]> = {}): string[] | undefined {
  const at = programIndex(words);
  if (at < 0) return undefined;
  const argv: string[] = [];
  for (const w of words.slice(at + 1)) {
    if (endsCommand(w)) break;
    const arr = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\[@\]\}$/.exec(w);
    if (arr) argv.push(...(arrays[arr[1]!] ?? []));
    else argv.push(substitute(w));
  }
  return argv;
}

/** Logical lines of a shell-like text (backslash-newline continuations joined), each with its first line's number. */
export function logicalLines(text: string): { text: string; line: number }[] {
  const out: { text: string; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    let full = lines[i]!;
    while (full.endsWith('\\') && i + 1 < lines.length) full = `${full.slice(0, -1)} ${lines[++i]!}`;
    out.push({ text: full, line });
  }
  return out;
}

/** Bash array assignments `name=(words...)` of a script; a name assigned several times gets the union. */
export function shellArrays(text: string): Record<string, string[]> {
  const arrays: Record<string, string[]> = {};
  for (const m of text.matchAll(/^\s*([A-Za-z_][A-Za-z0-9_]*)=\(([^)]*)\)/gm)) {
    const words = shellWords(m[2]!).map(substitute);
    arrays[m[1]!] = [...new Set([...(arrays[m[1]!] ?? []), ...words])];
  }
  return arrays;
}

/** sam-lora invocations on the non-comment lines of a shell script. */
export function scriptInvocations(rel: string, text = read(rel)): Invocation[] {
  const arrays = shellArrays(text);
  const out: Invocation[] = [];
  for (const { text: line, line: n } of logicalLines(text)) {
    if (/^\s*#/.test(line) || !line.includes('sam-lora')) continue;
    const argv = invocationIn(shellWords(line), arrays);
    if (argv) out.push({ source: `${rel} (line ${n})`, argv });
  }
  return out;
}

/** The fenced code blocks of a markdown text (```sh, ```bash, ``` ...), as text. */
export function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
}

/** sam-lora invocations in the code blocks of a markdown text. */
export function markdownInvocations(source: string, markdown: string): Invocation[] {
  return codeBlocks(markdown).flatMap((block, i) => scriptInvocations(`${source} (code block ${i + 1})`, block));
}

/** The section of README.md that starts at `heading` (a `## ` line), up to the next `## ` heading. */
export function readmeSection(heading: string): string {
  const text = read('README.md');
  const start = text.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "${heading}"`);
  const next = text.indexOf('\n## ', start + heading.length + 2);
  return text.slice(start, next < 0 ? undefined : next);
}

// ---------------------------------------------------------------------------------------------
// Kubernetes

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: Obj }[];
  ports?: { name?: string; containerPort: number }[];
  resources?: { requests?: Obj; limits?: Obj };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  startupProbe?: Obj;
  readinessProbe?: Obj;
  livenessProbe?: Obj;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: ({ name: string } & Obj)[];
  restartPolicy?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsUser?: number; runAsGroup?: number; fsGroup?: number };
  nodeSelector?: Record<string, string>;
  tolerations?: Obj[];
}

/** The pod spec of a workload (Job, DaemonSet, Deployment, ...: spec.template.spec; Pod: spec). */
export function podSpec(doc: Obj): PodSpec | undefined {
  const spec = doc.spec as Obj | undefined;
  if (!spec) return undefined;
  if (doc.kind === 'Pod') return spec as unknown as PodSpec;
  const template = spec.template as Obj | undefined;
  return template?.spec as PodSpec | undefined;
}

/** The pod template's metadata of a workload. */
export function podMeta(doc: Obj): { labels?: Record<string, string>; annotations?: Record<string, string> } {
  if (doc.kind === 'Pod') return doc.metadata as Obj;
  return ((doc.spec as Obj).template as Obj).metadata as Obj;
}

/** sam-lora invocations of the containers of Kubernetes documents. */
export function k8sInvocations(source: string, docs: Obj[]): Invocation[] {
  const out: Invocation[] = [];
  for (const d of docs) {
    for (const c of podSpec(d)?.containers ?? []) {
      const argv = invocationIn([...(c.command ?? []), ...(c.args ?? [])].map(String));
      if (argv) out.push({ source: `${source}: ${String(d.kind)} ${String((d.metadata as Obj).name)}, container ${c.name}`, argv });
    }
  }
  return out;
}

/**
 * Applies a JSON patch (RFC 6902: add, replace, remove, test; `-` appends) to a copy of a document,
 * the way kustomize applies a component's patches (a failed test fails the patch, as in kustomize).
 */
export function applyJsonPatch(doc: Obj, ops: { op: string; path: string; value?: unknown }[]): Obj {
  const copy = structuredClone(doc);
  for (const { op, path: p, value } of ops) {
    const keys = p.split('/').slice(1).map((k) => k.replace(/~1/g, '/').replace(/~0/g, '~'));
    let parent: unknown = copy;
    for (const k of keys.slice(0, -1)) {
      parent = Array.isArray(parent) ? parent[Number(k)] : (parent as Obj)[k];
      if (parent === undefined) throw new Error(`patch ${op} ${p}: ${k} does not exist`);
    }
    const last = keys[keys.length - 1]!;
    if (op === 'test') {
      const actual = Array.isArray(parent) ? parent[Number(last)] : (parent as Obj)[last];
      if (JSON.stringify(actual) !== JSON.stringify(value)) throw new Error(`patch test ${p}: expected ${JSON.stringify(value)}, found ${JSON.stringify(actual)}`);
      continue;
    }
    if (Array.isArray(parent)) {
      const idx = last === '-' ? parent.length : Number(last);
      if (op === 'add') parent.splice(idx, 0, value);
      else if (op === 'replace') parent[idx] = value;
      else if (op === 'remove') parent.splice(idx, 1);
      else throw new Error(`unsupported patch op ${op}`);
    } else {
      const o = parent as Obj;
      if ((op === 'replace' || op === 'remove') && !(last in o)) throw new Error(`patch ${op} ${p}: ${last} does not exist`);
      if (op === 'remove') delete o[last];
      else if (op === 'add' || op === 'replace') o[last] = value;
      else throw new Error(`unsupported patch op ${op}`);
    }
  }
  return copy;
}

// ---------------------------------------------------------------------------------------------
// systemd units, Dockerfiles

/** A systemd unit: section -> key -> values (a key may repeat). */
export function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const { text: raw, line: n } of logicalLines(text)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const sec = /^\[([A-Za-z]+)\]$/.exec(line);
    if (sec) {
      current = new Map();
      sections.set(sec[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9]*)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`unit line ${n}: not KEY=VALUE inside a [Section]: ${raw}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

export interface DockerInstruction {
  line: number;
  keyword: string;
  args: string;
}

/** Dockerfile instructions (continuations joined, comments and parser directives dropped). */
export function parseDockerfile(text: string): DockerInstruction[] {
  const out: DockerInstruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i]!;
    if (/^\s*(#|$)/.test(first)) continue;
    let full = first;
    const start = i;
    while (full.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue;
      full = `${full.slice(0, -1)} ${next}`;
    }
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`Dockerfile line ${start + 1}: not an instruction: ${first}`);
    out.push({ line: start + 1, keyword: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

/**
 * Does .dockerignore (Docker's rules: patterns in order, the last match wins, `!` re-includes, a
 * pattern matching a directory matches everything below it) exclude a context path?
 */
export function dockerIgnored(patterns: string[], rel: string): boolean {
  let ignored = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const pat = path.posix.normalize((neg ? raw.slice(1) : raw).trim()).replace(/^\/|\/$/g, '');
    const re = new RegExp(`^${pat.split('**').map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')).join('.*')}$`);
    const parts = rel.split('/');
    const matches = parts.some((_, i) => re.test(parts.slice(0, i + 1).join('/')));
    if (matches) ignored = !neg;
  }
  return ignored;
}

export function dockerignorePatterns(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

// ---------------------------------------------------------------------------------------------
// kustomize

export const K8S = 'deploy/k8s';

export interface Kustomization {
  kind?: string;
  namespace?: string;
  resources?: string[];
  components?: string[];
  images?: { name: string; newName?: string; newTag?: string }[];
  configMapGenerator?: { name: string; files?: string[]; literals?: string[] }[];
  replacements?: { source: { kind: string; name: string; fieldPath: string }; targets: { select: { kind: string; name: string }; fieldPaths: string[] }[] }[];
  patches?: { target: { kind: string; name: string }; patch?: string; path?: string }[];
}

export function kustomization(dirRel: string): Kustomization {
  const [k] = yamlDocs(path.join(dirRel, 'kustomization.yaml'));
  return k as Kustomization;
}

/** The resources of a kustomization directory (files only), as { file, doc } pairs. */
export function kustomizationResources(dirRel: string): { file: string; doc: Obj }[] {
  return (kustomization(dirRel).resources ?? []).flatMap((r) => {
    const file = path.join(dirRel, r);
    return yamlDocs(file).map((doc) => ({ file, doc }));
  });
}

/** Component directories under deploy/k8s/components. */
export function componentDirs(): string[] {
  const dir = path.join(ROOT, K8S, 'components');
  return readdirSync(dir)
    .filter((n) => statSync(path.join(dir, n)).isDirectory())
    .sort()
    .map((n) => path.join(K8S, 'components', n));
}

/** Kind/name of the documents that the components other than `except` add (their resources). */
function otherComponentResources(except: string): Set<string> {
  const ids = componentDirs()
    .filter((c) => c !== except)
    .flatMap((c) => (kustomization(c).resources ?? []).flatMap((r) => yamlDocs(path.join(c, r))))
    .map((d) => `${String(d.kind)}/${String((d.metadata as Obj).name)}`);
  return new Set(ids);
}

/**
 * Documents with a component applied the way kustomize applies it: its resources added, then its
 * JSON patches applied to the matching documents. A patch must match one document, or none when
 * its target is what another component adds (kustomize skips a patch that matches nothing:
 * components/tls patches the aggregators of components/host-groups when both are used, in that order).
 */
export function withComponent(docs: Obj[], componentRel: string): Obj[] {
  const comp = kustomization(componentRel);
  if (comp.kind !== 'Component') throw new Error(`${componentRel}: kind ${String(comp.kind)}, expected Component`);
  let out = docs.map((d) => structuredClone(d));
  for (const r of comp.resources ?? []) out.push(...yamlDocs(path.join(componentRel, r)));
  for (const p of comp.patches ?? []) {
    if (p.patch === undefined) throw new Error(`${componentRel}: only inline JSON patches are supported here`);
    const ops = YAMLlist(p.patch, componentRel);
    let hit = 0;
    out = out.map((d) => {
      const m = d.metadata as Obj;
      if (d.kind !== p.target.kind || m.name !== p.target.name) return d;
      hit++;
      return applyJsonPatch(d, ops);
    });
    const optional = hit === 0 && otherComponentResources(componentRel).has(`${p.target.kind}/${p.target.name}`);
    if (hit !== 1 && !optional) throw new Error(`${componentRel}: patch target ${p.target.kind}/${p.target.name} matches ${hit} documents`);
  }
  return out;
}

/**
 * The components in the order deploy/k8s/kustomization.yaml lists them (in its commented
 * `components:` example): the order in which they work together.
 */
export function documentedComponents(): string[] {
  return [...read(`${K8S}/kustomization.yaml`).matchAll(/^#\s+-\s+(components\/[\w-]+)/gm)].map((m) => path.join(K8S, m[1]!));
}

/** Documents with components applied in order, as kustomize applies a `components:` list. */
export function withComponents(docs: Obj[], componentRels: readonly string[]): Obj[] {
  return componentRels.reduce((acc, c) => withComponent(acc, c), docs);
}

function YAMLlist(text: string, what: string): { op: string; path: string; value?: unknown }[] {
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs) || docs.length !== 1) throw new Error(`${what}: a patch must be one YAML document`);
  const v = docs[0]!.toJS() as unknown;
  if (!Array.isArray(v)) throw new Error(`${what}: a patch must be a list of JSON patch operations`);
  return v as { op: string; path: string; value?: unknown }[];
}

/** The document of a kind and name. */
export function find(docs: Obj[], kind: string, name: string): Obj {
  const d = docs.find((x) => x.kind === kind && (x.metadata as Obj | undefined)?.name === name);
  if (!d) throw new Error(`no ${kind} ${name}`);
  return d;
}

/** The value after a flag in an argv (--flag VALUE or --flag=VALUE); undefined when absent. */
export function flagValue(argv: readonly string[], flag: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === flag) return argv[i + 1];
    if (argv[i]!.startsWith(`${flag}=`)) return argv[i]!.slice(flag.length + 1);
  }
  return undefined;
}
