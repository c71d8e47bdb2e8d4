// Every `sam-lora <command> <flags...>` the deployment files run — Kubernetes container command/args
// (with each component's patches applied), the Compose command, the systemd ExecStart, the Slurm
// srun lines, the Dockerfile's ENTRYPOINT/CMD and RUN lines, and the code blocks of deploy/README.md
// and of README's "Run on a cluster" — is accepted by the real command line: each is run with
// --help appended (commands parse strictly before honouring --help, so an unknown or renamed flag
// fails with exit status 2). Every SAMLORA_* environment variable they set is one the code reads.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import {
  componentDirs,
  deployFiles,
  documentedComponents,
  type Invocation,
  k8sInvocations,
  K8S,
  kustomizationResources,
  list,
  markdownInvocations,
  obj,
  parseDockerfile,
  parseUnit,
  read,
  readmeSection,
  ROOT,
  scriptInvocations,
  shellWords,
  invocationIn,
  withComponent,
  withComponents,
  yamlDocs,
} from './deploy_files.js';

const CLI = path.join(ROOT, 'dist', 'bin', 'sam-lora.js');
const PROBE = path.join(ROOT, 'dist', 'tests', 'deploy', 'cli_probe.js');

function composeInvocations(rel: string): Invocation[] {
  const [doc] = yamlDocs(rel);
  const out: Invocation[] = [];
  for (const [name, svc] of Object.entries(obj(obj(doc, rel).services, `${rel}: services`))) {
    const s = obj(svc, `${rel}: services.${name}`);
    const words = (v: unknown): string[] => (v === undefined ? [] : typeof v === 'string' ? shellWords(v) : list(v, `${rel}: ${name}`).map(String));
    const argv = invocationIn([...words(s.entrypoint), ...words(s.command)]);
    if (argv) out.push({ source: `${rel}: service ${name}`, argv });
  }
  return out;
}

function unitInvocations(rel: string): Invocation[] {
  const unit = parseUnit(read(rel));
  return ['ExecStartPre', 'ExecStart', 'ExecStartPost', 'ExecStop', 'ExecReload'].flatMap((key) =>
    (unit.get('Service')?.get(key) ?? []).flatMap((v) => {
      const argv = invocationIn(shellWords(v.replace(/^[-@:+!]+/, '')));
      return argv ? [{ source: `${rel}: ${key}`, argv }] : [];
    }),
  );
}

function dockerfileInvocations(rel: string): Invocation[] {
  const out: Invocation[] = [];
  const ins = parseDockerfile(read(rel));
  const json = (kw: string): string[] => {
    const last = ins.filter((i) => i.keyword === kw).pop();
    return last ? (JSON.parse(last.args) as string[]) : [];
  };
  const argv = invocationIn([...json('ENTRYPOINT'), ...json('CMD')]);
  if (argv) out.push({ source: `${rel}: ENTRYPOINT + CMD`, argv });
  for (const i of ins.filter((x) => x.keyword === 'RUN')) out.push(...scriptInvocations(`${rel} (RUN, line ${i.line})`, i.args.replace(/;/g, '\n')));
  return out;
}

/** Every sam-lora invocation of the deployment files and docs. */
function allInvocations(): Invocation[] {
  const out: Invocation[] = [];
  const base = kustomizationResources(K8S);
  const baseDocs = base.map((r) => r.doc);
  for (const file of new Set(base.map((r) => r.file))) out.push(...k8sInvocations(file, base.filter((r) => r.file === file).map((r) => r.doc)));
  for (const c of componentDirs()) out.push(...k8sInvocations(`${K8S} with ${c}`, withComponent(baseDocs, c)));
  out.push(...k8sInvocations(`${K8S} with every component (${documentedComponents().join(', ')})`, withComponents(baseDocs, documentedComponents())));
  for (const rel of deployFiles()) {
    if (rel.startsWith(`${K8S}/`) && /\.ya?ml$/.test(rel) && !rel.endsWith('kustomization.yaml') && !base.some((r) => r.file === rel)) {
      out.push(...k8sInvocations(rel, yamlDocs(rel)));
    } else if (/docker-compose\.ya?ml$|compose\.ya?ml$/.test(rel)) {
      out.push(...composeInvocations(rel));
    } else if (rel.endsWith('.service')) {
      out.push(...unitInvocations(rel));
    } else if (rel.endsWith('.sbatch') || rel.endsWith('.sh')) {
      out.push(...scriptInvocations(rel));
    } else if (path.basename(rel) === 'Dockerfile') {
      out.push(...dockerfileInvocations(rel));
    } else if (rel.endsWith('.md')) {
      out.push(...markdownInvocations(rel, read(rel)));
    }
  }
  out.push(...markdownInvocations('README.md, "Run on a cluster"', readmeSection('## Run on a cluster')));
  return out;
}

interface ProbeResult {
  argv: string[];
  status: number;
  stderr: string;
}

function probe(lines: string[][]): ProbeResult[] {
  const r = spawnSync(process.execPath, [PROBE, JSON.stringify(lines)], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `cli_probe failed: ${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last) as ProbeResult[];
}

describe('deployment files: sam-lora command lines', () => {
  const invocations = allInvocations();

  it('finds the command lines of every target', () => {
    const has = (src: RegExp, command: string): boolean => invocations.some((i) => src.test(i.source) && i.argv[0] === command);
    assert.ok(has(/^deploy\/k8s\/coordinator\.yaml/, 'coordinator'), 'Kubernetes coordinator');
    assert.ok(has(/^deploy\/k8s\/workers\.yaml/, 'worker'), 'Kubernetes workers');
    assert.ok(has(/components\/tls/, 'coordinator') && has(/components\/tls/, 'worker'), 'Kubernetes with the TLS component');
    assert.ok(has(/components\/host-groups:/, 'aggregator'), 'Kubernetes host groups: the aggregators');
    assert.ok(
      invocations.some((i) => /every component/.test(i.source) && i.argv[0] === 'aggregator' && i.argv.includes('--listen-tls-cert')),
      'Kubernetes host groups with TLS: the aggregators serve TLS',
    );
    assert.ok(has(/\.sbatch/, 'coordinator') && has(/\.sbatch/, 'worker'), 'Slurm coordinator and workers');
    assert.ok(has(/compose/, 'train'), 'Compose');
    assert.ok(has(/\.service/, 'train'), 'systemd');
    assert.ok(has(/Dockerfile: ENTRYPOINT/, '--help'), 'the image runs sam-lora --help by default');
    assert.ok(has(/^README\.md/, 'coordinator') || has(/^README\.md/, 'train'), 'README "Run on a cluster"');
  });

  it('every command line is accepted by the CLI (flags exist, values where needed, no stray arguments)', () => {
    const unique = [...new Map(invocations.map((i) => [JSON.stringify(i.argv), i.argv])).values()];
    const results = probe(unique);
    const failures = results
      .filter((r) => r.status !== 0)
      .map((r) => {
        const where = invocations.filter((i) => JSON.stringify(i.argv) === JSON.stringify(r.argv)).map((i) => i.source);
        return `sam-lora ${r.argv.join(' ')} (exit ${r.status}) in ${where.join(', ')}:\n  ${r.stderr.split('\n')[0]}`;
      });
    assert.deepEqual(failures, [], `command lines the CLI refuses:\n${failures.join('\n')}`);
  });

  it('the in-process probe agrees with the real CLI: a known flag exits 0, a renamed one 2', () => {
    const good = ['coordinator', '--listen', '0.0.0.0:50051', '--run-dir', '/runs/x', '--resume'];
    const renamed = ['coordinator', '--listen', '0.0.0.0:50051', '--min-worker', '4'];
    for (const [argv, want] of [
      [good, 0],
      [renamed, 2],
    ] as const) {
      const real = spawnSync(process.execPath, [CLI, ...argv, '--help'], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(real.status, want, `sam-lora ${argv.join(' ')} --help: ${real.stderr}`);
      assert.equal(probe([[...argv]])[0]!.status, want);
    }
  });

  it('every SAMLORA_* environment variable the deployment files and docs use is read by the code', () => {
    const sourceText = ['bin', 'coordinator', 'worker', 'shared']
      .flatMap((d) => tsFiles(path.join(ROOT, d)))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    const texts = [...deployFiles().map((rel) => [rel, read(rel)] as const), ['README.md, "Run on a cluster"', readmeSection('## Run on a cluster')] as const];
    const used = new Map<string, string[]>();
    for (const [rel, text] of texts) for (const m of text.matchAll(/\bSAMLORA_[A-Z0-9_]+\b/g)) used.set(m[0], [...(used.get(m[0]) ?? []), rel]);
    assert.ok(used.has(TOKEN_ENV_VAR), `the deployment passes the token as ${TOKEN_ENV_VAR}`);
    const unknown = [...used].filter(([name]) => !new RegExp(`['"\`]${name}['"\`]`).test(sourceText)).map(([name, files]) => `${name} (in ${[...new Set(files)].join(', ')})`);
    assert.deepEqual(unknown, [], `environment variables no code reads: ${unknown.join('; ')}`);
  });
});

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const full = path.join(dir, n);
    return statSync(full).isDirectory() ? tsFiles(full) : /\.tsx?$/.test(n) ? [full] : [];
  });
}
