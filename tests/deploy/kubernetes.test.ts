// The Kubernetes manifests (deploy/k8s), checked structurally: every document parses and names its
// apiVersion, kind and name; the Services' ports are the containers' ports and the ports the
// sam-lora flags use; the coordinator has grpc.health.v1 probes (TCP checks under TLS, which the
// kubelet's grpc probes cannot speak); each worker asks for one GPU and runs --gpu 0; every volume,
// ConfigMap and PVC referenced exists, every Secret is documented as user-provided; the training
// config loads; the worker count is set in one place. Host groups (components/host-groups): one
// aggregator per GPU node, reached over a node-local Service, its workers in the group of their node,
// the token and (with components/tls) TLS on the new links, the coordinator left as it is. Where
// kubectl is installed, its kustomize renders the base, the storage and every component, and the
// rendered output is checked too.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { KUBECTL_KUSTOMIZE, skipWithout } from '../helpers/required_tool.js';
import { after, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { parseConfigText } from '../../shared/config/index.js';
import { COORDINATOR_SERVICE } from '../../shared/wire/proto_loader.js';
import { GAVE_UP_EXIT_STATUS } from '../../bin/worker_command.js';
import {
  componentDirs,
  type Container,
  deployFiles,
  documentedComponents,
  find,
  flagValue,
  invocationIn,
  K8S,
  kustomization,
  kustomizationResources,
  type Obj,
  podMeta,
  podSpec,
  read,
  ROOT,
  withComponent,
  withComponents,
  yamlDocs,
} from './deploy_files.js';

const KINDS: Record<string, string> = {
  Job: 'batch/v1',
  DaemonSet: 'apps/v1',
  Service: 'v1',
  PersistentVolumeClaim: 'v1',
  Pod: 'v1',
  ConfigMap: 'v1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
  Kustomization: 'kustomize.config.k8s.io/v1beta1',
  Component: 'kustomize.config.k8s.io/v1alpha1',
};

const base = kustomizationResources(K8S).map((r) => r.doc);
const storage = kustomizationResources(`${K8S}/storage`).map((r) => r.doc);
const run = kustomization(K8S);
const COORD = 'sam-lora-coordinator';
const WORKER = 'sam-lora-worker';
const AGG = 'sam-lora-aggregator';
const HOST_GROUPS = `${K8S}/components/host-groups`;
const TLS = `${K8S}/components/tls`;

function container(docs: Obj[], name: string, kind = 'Job'): Container {
  const c = podSpec(find(docs, kind, name))!.containers;
  assert.equal(c.length, 1, `${name}: one container`);
  return c[0]!;
}

/** The environment variable a `$(NAME)` value refers to, which the container must set. */
function envOf(c: Container, value: string | undefined, what: string): { name: string; valueFrom?: Obj } {
  const m = /^\$\((\w+)\)$/.exec(value ?? '');
  assert.ok(m, `${c.name}: ${what} comes from the environment, got ${value}`);
  const e = c.env?.find((x) => x.name === m[1]);
  assert.ok(e, `${c.name}: ${what}: ${m[1]} is set`);
  return e;
}

/** A file a flag names lies in the container's `tls` volume mount. */
function inTlsMount(c: Container, file: string | undefined): void {
  assert.ok(file, `${c.name}: flag present`);
  assert.ok(
    (c.volumeMounts ?? []).some((m) => m.name === 'tls' && file.startsWith(`${m.mountPath}/`)),
    `${c.name}: ${file} is in the tls mount`,
  );
}

/** The named port of a Service. */
function servicePort(docs: Obj[], name: string, portName: string): { port: number; targetPort: string | number } {
  const p = (find(docs, 'Service', name).spec as { ports: { name: string; port: number; targetPort: string | number }[] }).ports.find((x) => x.name === portName);
  assert.ok(p, `Service ${name} has a port ${portName}`);
  return p;
}

function argv(c: Container): string[] {
  const a = invocationIn([...(c.command ?? []), ...(c.args ?? [])].map(String));
  assert.ok(a, `${c.name} runs sam-lora`);
  return a;
}

function port(c: Container, name: string): number {
  const p = c.ports?.find((x) => x.name === name);
  assert.ok(p, `${c.name} has a port named ${name}`);
  return p.containerPort;
}

function hostPort(v: string | undefined, what: string): { host: string; port: number } {
  const m = /^(.+):(\d+)$/.exec(v ?? '');
  assert.ok(m, `${what}: HOST:PORT, got ${v}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/** The literals of a configMapGenerator entry as a record. */
function literals(name: string): Record<string, string> {
  const g = run.configMapGenerator?.find((x) => x.name === name);
  assert.ok(g, `configMapGenerator ${name}`);
  return Object.fromEntries((g.literals ?? []).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** Every Secret name a set of documents references (env secretKeyRef, envFrom, volumes). */
function secretNames(docs: Obj[]): string[] {
  const names = new Set<string>();
  const walk = (v: unknown, key = ''): void => {
    if (Array.isArray(v)) v.forEach((x) => walk(x));
    else if (v && typeof v === 'object') {
      const o = v as Obj;
      if ((key === 'secretKeyRef' || key === 'secretRef') && typeof o.name === 'string') names.add(o.name);
      if (key === 'secret' && typeof o.secretName === 'string') names.add(o.secretName);
      for (const [k, x] of Object.entries(o)) walk(x, k);
    }
  };
  docs.forEach((d) => walk(d));
  return [...names].sort();
}

function checkPodReferences(docs: Obj[], what: string): void {
  const generated = new Set((run.configMapGenerator ?? []).map((g) => g.name));
  const claims = new Set(storage.filter((d) => d.kind === 'PersistentVolumeClaim').map((d) => (d.metadata as Obj).name as string));
  for (const d of docs) {
    const spec = podSpec(d);
    if (!spec) continue;
    const name = `${what}: ${String(d.kind)} ${String((d.metadata as Obj).name)}`;
    const volumes = new Map((spec.volumes ?? []).map((v) => [v.name, v]));
    for (const c of spec.containers) {
      for (const m of c.volumeMounts ?? []) assert.ok(volumes.has(m.name), `${name}: volumeMount ${m.name} has a volume`);
      for (const e of c.env ?? []) {
        const ref = (e.valueFrom?.configMapKeyRef as Obj | undefined)?.name;
        if (ref !== undefined) assert.ok(generated.has(ref as string), `${name}: env ${e.name} reads ConfigMap ${String(ref)}, which kustomization.yaml generates`);
      }
    }
    for (const v of volumes.values()) {
      const cm = (v.configMap as Obj | undefined)?.name;
      if (cm !== undefined) assert.ok(generated.has(cm as string), `${name}: volume ${v.name}: ConfigMap ${String(cm)} is generated`);
      const claim = (v.persistentVolumeClaim as Obj | undefined)?.claimName;
      if (claim !== undefined) assert.ok(claims.has(claim as string), `${name}: volume ${v.name}: PVC ${String(claim)} is in ${K8S}/storage`);
    }
  }
}

describe('Kubernetes manifests', () => {
  it('every YAML file parses; every document names apiVersion, kind and name', () => {
    const configs = new Set((run.configMapGenerator ?? []).flatMap((g) => (g.files ?? []).map((f) => path.join(K8S, f))));
    const files = deployFiles().filter((f) => f.startsWith(`${K8S}/`) && /\.ya?ml$/.test(f) && !configs.has(f));
    assert.ok(files.length >= 8, files.join(', '));
    for (const f of files) {
      for (const d of yamlDocs(f)) {
        if (f.endsWith('kustomization.yaml')) {
          assert.ok(d.kind === 'Kustomization' || d.kind === 'Component', `${f}: kind`);
        } else {
          assert.ok(typeof (d.metadata as Obj | undefined)?.name === 'string', `${f}: metadata.name`);
        }
        assert.equal(d.apiVersion, KINDS[d.kind as string], `${f}: ${String(d.kind)} is ${KINDS[d.kind as string]}`);
      }
    }
  });

  it('the kustomizations name files that exist; the training config loads', () => {
    for (const dir of [K8S, `${K8S}/storage`, ...componentDirs()]) {
      const k = kustomization(dir);
      for (const r of k.resources ?? []) assert.ok(deployFiles().includes(path.join(dir, r)), `${dir}: resource ${r}`);
    }
    for (const g of run.configMapGenerator ?? []) for (const f of g.files ?? []) assert.ok(deployFiles().includes(path.join(K8S, f)), `configMapGenerator ${g.name}: ${f}`);
    for (const c of componentDirs()) assert.ok(read(`${K8S}/kustomization.yaml`).includes(path.relative(K8S, c)), `kustomization.yaml mentions ${c}`);
    const cfg = parseConfigText(read(`${K8S}/config.yaml`), `${K8S}/config.yaml`, { checkPaths: false, baseDir: '/etc/sam-lora' });
    assert.ok(cfg.model.checkpoint, 'the config names a SAM checkpoint');
  });

  it('coordinator: one pod of a Job, gRPC and metrics ports on the flags, the Service and the annotations', () => {
    const job = find(base, 'Job', COORD);
    const spec = job.spec as Obj;
    assert.equal(spec.parallelism, 1);
    assert.equal(spec.completions, 1);
    const c = container(base, COORD);
    assert.deepEqual(c.command, ['sam-lora']);
    const a = argv(c);
    assert.equal(a[0], 'coordinator');
    assert.ok(a.includes('--auto-resume'), 'a replaced pod resumes the run');
    const grpc = port(c, 'grpc');
    const metrics = port(c, 'metrics');
    assert.equal(hostPort(flagValue(a, '--listen'), '--listen').port, grpc);
    assert.equal(hostPort(flagValue(a, '--metrics'), '--metrics').port, metrics);
    assert.match(flagValue(a, '--run-dir') ?? '', /^\/runs\//);
    const svc = find(base, 'Service', COORD);
    const sspec = svc.spec as { selector: Record<string, string>; ports: { name: string; port: number; targetPort: string | number }[] };
    assert.deepEqual(sspec.ports.map((p) => [p.name, p.port, p.targetPort]).sort(), [
      ['grpc', grpc, 'grpc'],
      ['metrics', metrics, 'metrics'],
    ]);
    const labels = podMeta(job).labels ?? {};
    for (const [k, v] of Object.entries(sspec.selector)) assert.equal(labels[k], v, `Service selector ${k}`);
    const ann = podMeta(job).annotations ?? {};
    assert.equal(ann['prometheus.io/scrape'], 'true');
    assert.equal(Number(ann['prometheus.io/port']), metrics);
  });

  it('both Jobs: a pod stopped by a disruption (exit 143 after its checkpoint) is replaced without counting as a failure; a usage error fails the Job', () => {
    for (const job of [COORD, WORKER]) {
      const doc = find(base, 'Job', job);
      const spec = doc.spec as { podReplacementPolicy?: string; podFailurePolicy?: { rules: { action: string; onExitCodes?: { containerName?: string; operator: string; values: number[] }; onPodConditions?: { type: string }[] }[] } };
      // podFailurePolicy needs restartPolicy Never (and podReplacementPolicy Failed).
      assert.equal(podSpec(doc)!.restartPolicy, 'Never', job);
      assert.equal(spec.podReplacementPolicy, 'Failed', `${job}: a replacement starts once the old pod has stopped`);
      const rules = spec.podFailurePolicy?.rules ?? [];
      const name = container(base, job).name;
      assert.ok(
        rules.some((r) => r.action === 'FailJob' && r.onExitCodes?.operator === 'In' && r.onExitCodes.values.includes(2) && r.onExitCodes.containerName === name),
        `${job}: exit 2 (usage) fails the Job`,
      );
      assert.ok(
        rules.some((r) => r.action === 'Ignore' && r.onPodConditions?.some((c) => c.type === 'DisruptionTarget')),
        `${job}: disruptions do not count against backoffLimit`,
      );
      assert.ok(!rules.some((r) => r.onExitCodes?.values.some((v) => v === 0 || v === 1)), `${job}: completion (0) and failures (1) keep their meaning`);
    }
    // Workers that find no coordinator for --give-up-after exit 3 and fail the Job, freeing the GPUs.
    const workerRules = (find(base, 'Job', WORKER).spec as { podFailurePolicy: { rules: { action: string; onExitCodes?: { values: number[] } }[] } }).podFailurePolicy.rules;
    assert.ok(workerRules.some((r) => r.action === 'FailJob' && r.onExitCodes?.values.includes(GAVE_UP_EXIT_STATUS)), 'exit 3 fails the worker Job');
    const args = container(base, WORKER).args ?? [];
    const at = args.indexOf('--give-up-after');
    assert.ok(at >= 0 && Number(args[at + 1]) >= 600, `workers give up only after a while without a coordinator: ${args.join(' ')}`);
  });

  it('coordinator: grpc.health.v1 startup, readiness (samlora.v1.Coordinator) and liveness probes on the gRPC port', () => {
    const c = container(base, COORD);
    const grpc = port(c, 'grpc');
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const g = (c[probe]?.grpc ?? undefined) as { port: number; service?: string } | undefined;
      assert.ok(g, `${probe} is a grpc probe`);
      assert.equal(g.port, grpc, `${probe} port`);
    }
    assert.equal((c.readinessProbe!.grpc as Obj).service, COORDINATOR_SERVICE);
  });

  it('workers: an Indexed Job, one GPU each, --gpu 0, dialling the coordinator Service; their metrics Service', () => {
    const job = find(base, 'Job', WORKER);
    assert.equal((job.spec as Obj).completionMode, 'Indexed');
    const c = container(base, WORKER);
    assert.deepEqual(c.command, ['sam-lora']);
    const a = argv(c);
    assert.equal(a[0], 'worker');
    assert.equal(flagValue(a, '--gpu'), '0', 'the one GPU the device plugin gives a pod is CUDA device 0');
    assert.equal(String(c.resources?.limits?.['nvidia.com/gpu']), '1');
    const dial = hostPort(flagValue(a, '--coordinator'), '--coordinator');
    const coordSvc = find(base, 'Service', COORD);
    assert.equal(dial.host, (coordSvc.metadata as Obj).name);
    assert.equal(dial.port, (coordSvc.spec as { ports: { name: string; port: number }[] }).ports.find((p) => p.name === 'grpc')!.port);
    const metrics = port(c, 'metrics');
    assert.equal(hostPort(flagValue(a, '--metrics'), '--metrics').port, metrics);
    assert.equal(Number(podMeta(job).annotations?.['prometheus.io/port']), metrics);
    const svc = find(base, 'Service', WORKER).spec as { selector: Record<string, string>; ports: { name: string; targetPort: string }[] };
    for (const [k, v] of Object.entries(svc.selector)) assert.equal(podMeta(job).labels?.[k], v);
    assert.deepEqual(svc.ports.map((p) => p.targetPort), ['metrics']);
  });

  it('the number of workers is set once: the worker Job and the coordinator\'s --min-workers follow it', () => {
    const workers = Number(literals('sam-lora-run').workers);
    assert.ok(Number.isInteger(workers) && workers >= 1, `workers=${workers}`);
    const rep = run.replacements?.find((r) => r.source.name === 'sam-lora-run' && r.source.fieldPath === 'data.workers');
    assert.ok(rep, 'a replacement from sam-lora-run data.workers');
    assert.deepEqual(rep.targets.map((t) => [t.select.kind, t.select.name, [...t.fieldPaths].sort()]), [['Job', WORKER, ['spec.completions', 'spec.parallelism']]]);
    const c = container(base, COORD);
    const minWorkers = /^\$\((\w+)\)$/.exec(flagValue(c.args ?? [], '--min-workers') ?? '');
    assert.ok(minWorkers, '--min-workers comes from the environment');
    const env = c.env?.find((e) => e.name === minWorkers[1]);
    assert.deepEqual(env?.valueFrom?.configMapKeyRef, { name: 'sam-lora-run', key: 'workers' });
  });

  it('every referenced volume, ConfigMap and PVC exists; every Secret is documented as user-provided', () => {
    const docs = deployFiles().includes(`${K8S}/storage/assets-loader.yaml`) ? yamlDocs(`${K8S}/storage/assets-loader.yaml`) : [];
    checkPodReferences(base, K8S);
    for (const comp of componentDirs()) checkPodReferences(withComponent(base, comp), comp);
    checkPodReferences(docs, 'assets-loader');
    const readme = read('deploy/README.md');
    checkPodReferences(withComponents(base, documentedComponents()), 'every component');
    const secrets = new Set([...secretNames(base), ...componentDirs().flatMap((c) => secretNames(withComponent(base, c))), ...secretNames(withComponents(base, documentedComponents()))]);
    assert.ok(secrets.has('sam-lora-token'));
    for (const s of secrets) assert.match(readme, new RegExp(`create secret [a-z]+ ${s}\\b`), `deploy/README.md shows how to create the Secret ${s}`);
  });

  it('the SAM checkpoint is at the same path in the coordinator and in every worker', () => {
    const mount = (job: string): string => {
      const m = (container(base, job).volumeMounts ?? []).find((x) => x.name === 'assets');
      const v = (podSpec(find(base, 'Job', job))!.volumes ?? []).find((x) => x.name === 'assets');
      assert.ok(m && v, `${job} mounts the assets volume`);
      assert.equal((v.persistentVolumeClaim as Obj).claimName, 'sam-lora-assets');
      return m.mountPath;
    };
    assert.equal(mount(COORD), mount(WORKER));
    const cfg = parseConfigText(read(`${K8S}/config.yaml`), 'config.yaml', { checkPaths: false, baseDir: '/etc/sam-lora' });
    assert.ok(cfg.model.checkpoint!.startsWith(`${mount(WORKER)}/`), `${cfg.model.checkpoint} lies on the shared assets volume`);
    const c = container(base, COORD);
    const configMount = (c.volumeMounts ?? []).find((m) => m.name === 'config')!;
    assert.equal(path.dirname(flagValue(argv(c), '--config')!), configMount.mountPath, '--config is the mounted config.yaml');
  });

  it('the token reaches both roles as SAMLORA_TOKEN from the Secret', () => {
    for (const job of [COORD, WORKER]) {
      const env = container(base, job).env?.find((e) => e.name === 'SAMLORA_TOKEN');
      assert.deepEqual(env?.valueFrom?.secretKeyRef, { name: 'sam-lora-token', key: 'token' }, job);
    }
  });

  it('TLS component: certificate flags point into the mounted Secret; probes become TCP checks', () => {
    const docs = withComponent(base, TLS);
    const c = container(docs, COORD);
    const a = argv(c);
    inTlsMount(c, flagValue(a, '--tls-cert'));
    inTlsMount(c, flagValue(a, '--tls-key'));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      assert.equal(c[probe]?.grpc, undefined, `${probe}: the kubelet's grpc probe cannot speak TLS`);
      assert.equal((c[probe]?.tcpSocket as Obj | undefined)?.port, port(c, 'grpc'));
    }
    const w = container(docs, WORKER);
    inTlsMount(w, flagValue(argv(w), '--tls-ca'));
    assert.ok(!docs.some((d) => d.kind === 'DaemonSet'), 'without host-groups there are no aggregators to patch');
  });

  it('host-groups component: an aggregator per GPU node behind a node-local Service; ports agree with the worker and coordinator flags', () => {
    const docs = withComponent(base, HOST_GROUPS);
    const ds = find(docs, 'DaemonSet', AGG);
    const c = container(docs, AGG, 'DaemonSet');
    assert.deepEqual(c.command, ['sam-lora']);
    const a = argv(c);
    assert.equal(a[0], 'aggregator');
    // Upstream: the coordinator Service's gRPC port, as the workers dial it.
    const up = hostPort(flagValue(a, '--coordinator'), '--coordinator');
    assert.deepEqual(up, { host: COORD, port: servicePort(docs, COORD, 'grpc').port });
    // Downstream: --listen, the container port, the Service's target; the Service keeps traffic on the node.
    const listen = hostPort(flagValue(a, '--listen'), '--listen');
    assert.equal(listen.host, '0.0.0.0', 'reachable from the Service');
    assert.equal(listen.port, port(c, 'grpc'));
    const svc = find(docs, 'Service', AGG).spec as { internalTrafficPolicy?: string; selector: Record<string, string> };
    assert.equal(svc.internalTrafficPolicy, 'Local', "a worker reaches its own node's aggregator only");
    const sp = servicePort(docs, AGG, 'grpc');
    assert.ok(sp.targetPort === 'grpc' || sp.targetPort === listen.port, `Service targetPort ${sp.targetPort}`);
    const labels = podMeta(ds).labels ?? {};
    for (const [k, v] of Object.entries(svc.selector)) assert.equal(labels[k], v, `Service selector ${k}`);
    for (const [k, v] of Object.entries(((ds.spec as Obj).selector as { matchLabels: Record<string, string> }).matchLabels)) assert.equal(labels[k], v, `DaemonSet selector ${k}`);
    for (const other of [COORD, WORKER]) {
      const l = podMeta(find(docs, 'Job', other)).labels ?? {};
      assert.ok(Object.entries(svc.selector).some(([k, v]) => l[k] !== v), `the aggregator Service does not select ${other}`);
    }
    // The workers go through it and keep --coordinator to fall back to.
    const w = container(docs, WORKER);
    const wa = argv(w);
    assert.deepEqual(hostPort(flagValue(wa, '--aggregator'), '--aggregator'), { host: AGG, port: sp.port });
    assert.deepEqual(hostPort(flagValue(wa, '--coordinator'), '--coordinator'), up, 'workers keep the coordinator for when their aggregator dies');
    // Both name the group after the node (downward API), so the aggregator's group is its workers'.
    for (const ct of [c, w]) assert.deepEqual(envOf(ct, flagValue(ct.args ?? [], '--group'), '--group').valueFrom, { fieldRef: { fieldPath: 'spec.nodeName' } });
    // On the nodes that run workers: their tolerations, a node selector; no GPU of its own.
    const aspec = podSpec(ds)!;
    assert.ok(Object.keys(aspec.nodeSelector ?? {}).length > 0, 'a node selector for the GPU nodes');
    for (const t of podSpec(find(docs, 'Job', WORKER))!.tolerations ?? []) assert.ok((aspec.tolerations ?? []).some((x) => JSON.stringify(x) === JSON.stringify(t)), `tolerates ${JSON.stringify(t)} like the workers`);
    assert.equal(c.resources?.limits?.['nvidia.com/gpu'], undefined, 'an aggregator needs no GPU');
    // The base has none of it.
    assert.equal(flagValue(argv(container(base, WORKER)), '--aggregator'), undefined);
    assert.ok(!base.some((d) => d.kind === 'DaemonSet'));
  });

  it('host-groups component: the aggregator has the token, a readiness probe on its port, resources, a short stop, and follows the run', () => {
    const docs = withComponent(base, HOST_GROUPS);
    const ds = find(docs, 'DaemonSet', AGG);
    const c = container(docs, AGG, 'DaemonSet');
    assert.deepEqual(c.env?.find((e) => e.name === 'SAMLORA_TOKEN')?.valueFrom?.secretKeyRef, { name: 'sam-lora-token', key: 'token' });
    const g = c.readinessProbe?.grpc as { port: number; service?: string } | undefined;
    assert.ok(g, 'grpc.health.v1 readiness: the Service sends workers only to an aggregator that serves the run');
    assert.equal(g.port, port(c, 'grpc'));
    assert.equal(g.service, COORDINATOR_SERVICE, 'the aggregator serves the coordinator service to its workers');
    // Its port opens only once the coordinator answered, maybe never between runs: nothing to restart for.
    assert.equal(c.livenessProbe, undefined);
    assert.equal(c.startupProbe, undefined);
    const req = c.resources?.requests ?? {};
    assert.ok(req.cpu !== undefined && req.memory !== undefined, 'CPU and memory requests');
    assert.ok(c.resources?.limits?.memory !== undefined, 'a memory limit');
    const grace = podSpec(ds)!.terminationGracePeriodSeconds;
    assert.ok(grace !== undefined && grace > 0 && grace <= 60, `SIGTERM stops it at once; grace ${grace}`);
    const run = c.env?.find((e) => e.name === 'RUN')?.valueFrom?.configMapKeyRef as Obj | undefined;
    assert.equal(run?.name, 'sam-lora-run', 'the pods change (and are replaced) with the run');
    const update = (ds.spec as { updateStrategy?: { type?: string; rollingUpdate?: { maxUnavailable?: string | number } } }).updateStrategy;
    assert.equal(update?.rollingUpdate?.maxUnavailable, '100%', 'all replaced at once for a new run');
  });

  it('host-groups component: the coordinator is left as it is (--min-workers = workers: it counts the workers behind each aggregator); workers need no wait', () => {
    const docs = withComponent(base, HOST_GROUPS);
    assert.deepEqual(container(docs, COORD), container(base, COORD), 'the coordinator is not patched');
    assert.equal(literals('sam-lora-run').groups, undefined, 'no `groups` setting: the workers count');
    // A worker waits for the coordinator while it prepares (the aggregator cannot be up before it), so no init container.
    assert.deepEqual(podSpec(find(docs, 'Job', WORKER))!.initContainers, podSpec(find(base, 'Job', WORKER))!.initContainers);
  });

  it('TLS with host groups (in the documented order): the aggregators serve TLS with the mounted certificate and trust ca.crt; probes become TCP checks', () => {
    const order = documentedComponents();
    assert.deepEqual(order.filter((c) => c === HOST_GROUPS || c === TLS), [HOST_GROUPS, TLS], 'kustomization.yaml lists host-groups before tls');
    const docs = withComponents(base, order);
    const c = container(docs, AGG, 'DaemonSet');
    const a = argv(c);
    for (const flag of ['--tls-ca', '--listen-tls-cert', '--listen-tls-key']) inTlsMount(c, flagValue(a, flag));
    const w = container(docs, WORKER);
    assert.equal(flagValue(a, '--tls-ca'), flagValue(argv(w), '--tls-ca'), 'the aggregator trusts the CA the workers trust');
    // The Secret's keys the flags name are in the volume (all keys, or the listed items).
    const vol = podSpec(find(docs, 'DaemonSet', AGG))!.volumes!.find((v) => v.name === 'tls')!.secret as { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
    assert.equal(vol.secretName, 'sam-lora-tls');
    const mount = c.volumeMounts!.find((m) => m.name === 'tls')!.mountPath;
    for (const flag of ['--tls-ca', '--listen-tls-cert', '--listen-tls-key']) {
      const file = path.relative(mount, flagValue(a, flag)!);
      assert.ok(vol.items === undefined || vol.items.some((i) => i.path === file), `${flag}: ${file} is projected`);
    }
    // The key is readable by the non-root user: group-readable with fsGroup, or world-readable.
    const sc = podSpec(find(docs, 'DaemonSet', AGG))!.securityContext ?? {};
    const mode = vol.defaultMode ?? 0o644;
    assert.ok((mode & 0o004) !== 0 || ((mode & 0o040) !== 0 && sc.fsGroup === sc.runAsGroup), `key mode ${mode.toString(8)}, fsGroup ${sc.fsGroup}`);
    assert.equal(c.readinessProbe?.grpc, undefined, "the kubelet's grpc probe cannot speak TLS");
    assert.equal((c.readinessProbe?.tcpSocket as Obj | undefined)?.port, port(c, 'grpc'));
    // The other order leaves the aggregators without TLS (the patch finds no DaemonSet yet): hence the order.
    assert.equal(flagValue(argv(container(withComponents(base, [TLS, HOST_GROUPS]), AGG, 'DaemonSet')), '--listen-tls-cert'), undefined);
  });

  it('ServiceMonitor component: selects both Services and scrapes their metrics port', () => {
    const docs = withComponent(base, `${K8S}/components/servicemonitor`);
    const sm = docs.find((d) => d.kind === 'ServiceMonitor')!;
    const sel = ((sm.spec as Obj).selector as { matchLabels: Record<string, string> }).matchLabels;
    const endpoints = (sm.spec as { endpoints: { port: string; path: string }[] }).endpoints;
    for (const name of [COORD, WORKER]) {
      const svc = find(docs, 'Service', name);
      const labels = (svc.metadata as { labels: Record<string, string> }).labels;
      for (const [k, v] of Object.entries(sel)) assert.equal(labels[k], v, `${name} label ${k}`);
      assert.ok((svc.spec as { ports: { name: string }[] }).ports.some((p) => p.name === endpoints[0]!.port));
    }
    assert.equal(endpoints[0]!.path, '/metrics');
  });
});

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;

describe('Kubernetes manifests rendered by kustomize', { skip: skipWithout(kubectl, KUBECTL_KUSTOMIZE) }, () => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-kustomize-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));

  function render(dir: string): Obj[] {
    const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
    return parseAllDocuments(r.stdout).map((d) => (Array.isArray(d) ? {} : (d.toJS() as Obj)));
  }

  it('the run: namespace, image, generated ConfigMaps referenced by their hashed names, the worker count applied', () => {
    const docs = render(path.join(ROOT, K8S));
    for (const d of docs) assert.equal((d.metadata as Obj).namespace, run.namespace, `${String(d.kind)} ${String((d.metadata as Obj).name)}`);
    const workers = Number(literals('sam-lora-run').workers);
    const spec = find(docs, 'Job', WORKER).spec as Obj;
    assert.equal(spec.parallelism, workers);
    assert.equal(spec.completions, workers);
    const image = `${run.images![0]!.newName}:${run.images![0]!.newTag}`;
    for (const job of [COORD, WORKER]) assert.equal(container(docs, job).image, image);
    const cms = new Set(docs.filter((d) => d.kind === 'ConfigMap').map((d) => (d.metadata as Obj).name as string));
    const c = container(docs, COORD);
    for (const e of c.env ?? []) {
      const ref = (e.valueFrom?.configMapKeyRef as Obj | undefined)?.name as string | undefined;
      if (ref) assert.ok(cms.has(ref), `${e.name}: ${ref} is rendered`);
    }
    const config = podSpec(find(docs, 'Job', COORD))!.volumes!.find((v) => v.name === 'config')!.configMap as Obj;
    assert.ok(cms.has(config.name as string));
  });

  it('the storage and every component render; components patch what the test applies by hand', () => {
    const st = render(path.join(ROOT, K8S, 'storage'));
    assert.deepEqual(st.map((d) => (d.metadata as Obj).name).sort(), ['sam-lora-assets', 'sam-lora-runs']);
    // A copy, so that an overlay beside the base can name both (kustomize refuses roots that contain each other).
    cpSync(path.join(ROOT, K8S), path.join(tmp, 'base'), { recursive: true });
    // Each component alone, every component in the documented order, and host-groups after tls
    // (the order that leaves the aggregators without TLS, as the hand-applied patches say too).
    const combos = [...componentDirs().map((c) => [c]), documentedComponents(), [TLS, HOST_GROUPS]];
    for (const [i, comps] of combos.entries()) {
      const overlay = path.join(tmp, `overlay-${i}`);
      mkdirSync(overlay);
      writeFileSync(path.join(overlay, 'kustomization.yaml'), `resources: [../base]\ncomponents: [${comps.map((c) => `../base/${path.relative(K8S, c)}`).join(', ')}]\n`);
      const docs = render(overlay);
      const byHand = withComponents(base, comps);
      const what = comps.join(' + ');
      for (const job of [COORD, WORKER]) assert.deepEqual(container(docs, job).args, container(byHand, job).args, `${what}: ${job} args`);
      if (byHand.some((d) => d.kind === 'DaemonSet')) {
        assert.deepEqual(container(docs, AGG, 'DaemonSet').args, container(byHand, AGG, 'DaemonSet').args, `${what}: aggregator args`);
      }
      assert.deepEqual(
        docs.map((d) => d.kind).sort(),
        [...byHand.map((d) => d.kind as string), 'ConfigMap', 'ConfigMap'].sort(),
        `${what}: the same objects`,
      );
    }
  });

  it('with host groups enabled in kustomization.yaml, the aggregators reference the run\'s generated ConfigMap by its hashed name', () => {
    const dir = path.join(tmp, 'with-host-groups');
    cpSync(path.join(ROOT, K8S), dir, { recursive: true });
    writeFileSync(path.join(dir, 'kustomization.yaml'), `${read(`${K8S}/kustomization.yaml`)}\ncomponents: [${documentedComponents().map((c) => path.relative(K8S, c)).join(', ')}]\n`);
    const docs = render(dir);
    const cms = new Set(docs.filter((d) => d.kind === 'ConfigMap').map((d) => (d.metadata as Obj).name as string));
    for (const [name, kind] of [[AGG, 'DaemonSet'], [COORD, 'Job']] as const) {
      for (const e of container(docs, name, kind).env ?? []) {
        const ref = (e.valueFrom?.configMapKeyRef as Obj | undefined)?.name as string | undefined;
        if (ref) assert.ok(cms.has(ref) && ref !== 'sam-lora-run', `${name} ${e.name}: ${ref} is the generated (hashed) ConfigMap`);
      }
    }
    for (const d of docs) assert.equal((d.metadata as Obj).namespace, run.namespace, `${String(d.kind)} ${String((d.metadata as Obj).name)}`);
  });
});
