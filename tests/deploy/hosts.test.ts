// The container image and the host-level deployments: the Dockerfile (pinned CUDA 12 + cuDNN 9 and
// Node 20 bases, the CUDA provider install, a non-root user, every COPY source present and not
// excluded by .dockerignore), the Compose file (GPU reservations matching --gpus, --auto-resume), the
// systemd unit (--auto-resume, 143 a clean stop, variables defined by its environment file;
// systemd-analyze verify where installed), and the Slurm script (bash -n, shellcheck where installed,
// and a run against stand-ins for srun, scontrol and sam-lora whose exit status is the real one's:
// 0 completed, 143 stopped by SIGTERM, 1 failed). What sam-lora itself does on a restart or a signal
// (--auto-resume, a completed run, exit 143) is tested in tests/bin/run_exit_status.test.ts.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseConfigText } from '../../shared/config/index.js';
import { dockerignorePatterns, dockerIgnored, flagValue, invocationIn, list, obj, parseDockerfile, parseUnit, read, ROOT, scriptInvocations, shellWords, substitute, yamlDocs } from './deploy_files.js';
import { DOCKER_COMPOSE, SYSTEMD_ANALYZE, skipWithout } from '../helpers/required_tool.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-deploy-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const SBATCH = path.join(ROOT, 'deploy', 'slurm', 'sam-lora.sbatch');
const has = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;

describe('Dockerfile', () => {
  const ins = parseDockerfile(read('deploy/docker/Dockerfile'));
  const args = Object.fromEntries(ins.filter((i) => i.keyword === 'ARG').map((i) => i.args.split('=') as [string, string]));
  const expand = (s: string): string => s.replace(/\$\{(\w+)\}/g, (_m, n: string) => args[n] ?? `\${${n}}`);
  const froms = ins.filter((i) => i.keyword === 'FROM').map((i) => expand(i.args).split(/\s+/)[0]!);
  const runs = ins.filter((i) => i.keyword === 'RUN').map((i) => i.args);

  it('a multi-stage build on pinned bases: Node 20 to build, CUDA 12 + cuDNN 9 runtime to run', () => {
    assert.equal(froms.length, 2, froms.join(', '));
    for (const f of froms) assert.match(f, /^[\w./-]+:[\w.-]+$/, `${f}: an explicit tag`);
    assert.match(froms[0]!, /^node:20\.\d+\.\d+-/, 'the build stage: Node 20, pinned');
    assert.match(froms[1]!, /^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu(22|24)\.04$/, 'the runtime: CUDA 12 + cuDNN 9, pinned');
    assert.ok(ins.some((i) => i.keyword === 'COPY' && /--from=build \/usr\/local\/bin\/node /.test(i.args)), 'the runtime gets the build stage\'s Node');
  });

  it('installs with the CUDA execution provider, builds, prunes dev dependencies, checks the provider library', () => {
    const all = runs.join('\n');
    assert.match(all, /npm ci [^\n]*npm run install:cuda/, 'npm ci, then the CUDA provider');
    assert.match(all, /npm run build/);
    assert.match(all, /npm prune --omit=dev/);
    // The library the install must fetch is where the runtime looks for it (shared/graph/runtime.ts).
    const lib = /node_modules\/onnxruntime-node\/bin\/([\w-]+\/linux\/x64)\/libonnxruntime_providers_cuda\.so/.exec(all);
    assert.ok(lib, 'the Dockerfile checks for libonnxruntime_providers_cuda.so');
    assert.ok(existsSync(path.join(ROOT, 'node_modules', 'onnxruntime-node', 'bin', lib[1]!, 'libonnxruntime.so.1')), `onnxruntime-node's native directory is bin/${lib[1]}`);
    // A plain npm ci skips onnxruntime-node's install script; install:cuda runs it with the CUDA flag.
    const pkg = JSON.parse(read('package.json')) as { allowScripts: Record<string, boolean>; scripts: Record<string, string> };
    assert.equal(pkg.allowScripts['onnxruntime-node'], false);
    assert.match(pkg.scripts['install:cuda']!, /^ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules\/onnxruntime-node\/script\/install\.js$/);
    assert.doesNotMatch(read('.npmrc'), /^\s*onnxruntime/m, 'no project config npm does not know (it warns on every command)');
  });

  it('runs as a non-root user; ENTRYPOINT sam-lora, CMD --help', () => {
    const user = ins.filter((i) => i.keyword === 'USER').pop();
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), `USER ${user?.args}`);
    assert.deepEqual(JSON.parse(ins.filter((i) => i.keyword === 'ENTRYPOINT').pop()!.args), ['sam-lora']);
    assert.deepEqual(JSON.parse(ins.filter((i) => i.keyword === 'CMD').pop()!.args), ['--help']);
    assert.ok(runs.some((r) => r.includes('/usr/local/bin/sam-lora')), 'sam-lora linked onto the PATH');
  });

  it('every COPY source exists in the repository and is in the build context (.dockerignore)', () => {
    const patterns = dockerignorePatterns(read('.dockerignore'));
    for (const i of ins.filter((x) => x.keyword === 'COPY' && !x.args.includes('--from='))) {
      const words = i.args.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const src of words.slice(0, -1)) {
        assert.ok(existsSync(path.join(ROOT, src)), `COPY ${src} (line ${i.line}) exists`);
        assert.equal(dockerIgnored(patterns, src), false, `COPY ${src}: excluded by .dockerignore`);
      }
    }
    // Source files the runtime stage takes from the build stage (read at run time, not compiled).
    for (const i of ins.filter((x) => x.keyword === 'COPY' && x.args.includes('--from=build /src/'))) {
      const src = /--from=build \/src\/(\S+)/.exec(i.args)![1]!;
      if (!/^(node_modules|dist)\b/.test(src)) assert.ok(existsSync(path.join(ROOT, src)), `COPY --from=build /src/${src} (line ${i.line}) exists in the repository`);
    }
    for (const p of ['node_modules/x', 'dist/bin/sam-lora.js', 'runs/r/checkpoints', '.git/HEAD', 'deploy/compose/assets/sam.pth', 'tests/x.ts']) {
      assert.equal(dockerIgnored(patterns, p), true, `${p} stays out of the build context`);
    }
  });

  it('the build stage gets every source folder tsc compiles (but tests and benchmarks), the build script and the bundled base; the runtime stage the bundled base', () => {
    const include = (JSON.parse(read('tsconfig.json')) as { include: string[] }).include.map((g) => g.split('/')[0]!);
    const folders = [...new Set(include)].filter((f) => f !== 'tests' && f !== 'bench');
    const copied = new Set(ins.filter((x) => x.keyword === 'COPY' && !x.args.includes('--from=')).flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    for (const f of [...folders, 'scripts', 'models']) assert.ok(copied.has(f), `COPY ${f} (tsconfig.json compiles it, or the build or the run reads it)`);
    assert.ok(ins.some((i) => i.keyword === 'COPY' && /--from=build \/src\/models /.test(i.args)), 'the runtime stage gets models/ (model.checkpoint: null reads the bundled base)');
  });
});

describe('Docker Compose', () => {
  const rel = 'deploy/compose/docker-compose.yml';
  const [doc] = yamlDocs(rel);
  const services = obj(obj(doc, rel).services, 'services');

  it('one service: sam-lora train --gpus --auto-resume with as many reserved GPUs, the config and the assets mounted', () => {
    const [name, raw] = Object.entries(services)[0]!;
    const s = obj(raw, name);
    const words = [...list(s.entrypoint, 'entrypoint'), ...list(s.command, 'command')].map(String);
    assert.equal(words[0], 'sam-lora');
    const argv = invocationIn(words)!;
    assert.equal(argv[0], 'train');
    assert.ok(argv.includes('--auto-resume'), 'restarts resume');
    const gpus = flagValue(argv, '--gpus')!.split(',');
    const devices = list(obj(obj(obj(s.deploy, 'deploy').resources, 'resources').reservations, 'reservations').devices, 'devices').map((d) => obj(d, 'device'));
    assert.equal(devices.length, 1);
    assert.equal(devices[0]!.driver, 'nvidia');
    assert.deepEqual(devices[0]!.capabilities, ['gpu']);
    assert.equal(list(devices[0]!.device_ids, 'device_ids').length, gpus.length, 'device_ids and --gpus name as many GPUs');
    assert.deepEqual(
      gpus.map(Number),
      gpus.map((_, i) => i),
      'inside the container the reserved GPUs are 0..N-1',
    );
    const mounts = list(s.volumes, 'volumes').map((v) => substitute(String(v)).split(':'));
    const configMount = mounts.find((m) => m[1] === flagValue(argv, '--config'));
    assert.ok(configMount, '--config is a mounted file');
    const configFile = path.join(ROOT, 'deploy', 'compose', configMount[0]!);
    const cfg = parseConfigText(readFileSync(configFile, 'utf8'), configFile, { checkPaths: false, baseDir: path.dirname(configMount[1]!) });
    const assets = mounts.find((m) => m[1] === '/assets');
    assert.ok(assets && cfg.model.checkpoint?.startsWith('/assets/'), 'the checkpoint is on the assets mount');
    assert.ok(mounts.some((m) => flagValue(argv, '--run-dir')!.startsWith(`${m[1]}/`)), 'the run directory is on a mounted volume');
    assert.equal(s.restart, 'on-failure');
  });

  it('docker compose / docker-compose accepts the file', { skip: skipWithout(has('docker', 'compose', 'version') || has('docker-compose', 'version'), DOCKER_COMPOSE) }, () => {
    const [cmd, ...pre] = has('docker', 'compose', 'version') ? ['docker', 'compose'] : ['docker-compose'];
    const r = spawnSync(cmd!, [...pre, '-f', path.join(ROOT, rel), 'config', '-q'], { encoding: 'utf8', cwd: path.join(ROOT, 'deploy', 'compose') });
    assert.equal(r.status, 0, r.stderr);
  });
});

describe('systemd unit', () => {
  const rel = 'deploy/systemd/sam-lora-train.service';
  const unit = parseUnit(read(rel));
  const exec = unit.get('Service')!.get('ExecStart')![0]!;

  it('runs sam-lora train --gpus --auto-resume, restarts on failure, a stop (143) is clean, every variable defined', () => {
    assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install']);
    const words = shellWords(exec);
    assert.match(words[0]!, /^\//, 'ExecStart names an absolute path');
    const argv = invocationIn(words)!;
    assert.equal(argv[0], 'train');
    assert.ok(flagValue(argv, '--gpus') && flagValue(argv, '--run-dir'));
    assert.ok(argv.includes('--auto-resume'), 'restarts resume');
    const svc = unit.get('Service')!;
    assert.deepEqual(svc.get('Restart'), ['on-failure']);
    assert.match(svc.get('SuccessExitStatus')![0]!, /\b143\b/, 'systemctl stop: sam-lora checkpoints and exits 143 (128 + SIGTERM), a clean stop');
    assert.deepEqual(svc.get('RestartPreventExitStatus'), ['2'], 'a usage error is not restarted');
    const envFile = svc.get('EnvironmentFile')![0]!;
    assert.equal(path.basename(envFile), 'sam-lora.env');
    const defined = new Set([...read('deploy/systemd/sam-lora.env').matchAll(/^([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]!));
    for (const m of exec.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)) assert.ok(defined.has(m[1]!), `${m[1]} is set in sam-lora.env`);
  });

  it('systemd-analyze verify accepts it', { skip: skipWithout(has('systemd-analyze', '--version'), SYSTEMD_ANALYZE) }, () => {
    const dir = path.join(tmp, 'systemd');
    mkdirSync(dir, { recursive: true });
    const unitFile = path.join(dir, 'sam-lora-train.service');
    writeFileSync(unitFile, read(rel));
    const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
});

/** Stand-ins for srun, scontrol and sam-lora in a directory put first on the PATH; calls go to log. */
function standIns(dir: string): { path: string; log: string } {
  const bin = path.join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  const log = path.join(dir, 'calls.log');
  const script = (name: string, body: string): void => {
    writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(path.join(bin, name), 0o755);
  };
  script('srun', 'while [ $# -gt 0 ]; do case $1 in --*) shift ;; *) break ;; esac; done\nexec "$@"');
  script('scontrol', `case $1 in show) printf 'node1\\nnode2\\n' ;; requeue) echo "scontrol requeue $2" >>"${log}" ;; esac`);
  script(
    'sam-lora',
    `echo "sam-lora $*" >>"${log}"
# Under the Slurm script, the coordinator stand-in lingers until the workers have started (or 10 s), as a real run would.
if [ "$1" = coordinator ] && [ -n "\${SLURM_JOB_ID:-}" ]; then i=0; while ! grep -q '^sam-lora worker' "${log}" && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done; fi
# The real coordinator's exit status: 143 after a stop by SIGTERM (checkpointed), else STAND_IN_RC (0: completed).
if [ "$1" = coordinator ] && [ -n "\${STAND_IN_WAIT:-}" ]; then trap 'exit 143' TERM; while :; do sleep 0.05; done; fi
[ "$1" = coordinator ] && exit "\${STAND_IN_RC:-0}"
exit 0`,
  );
  return { path: `${bin}:${process.env.PATH}`, log };
}

/** The calls the stand-ins logged. */
function calls(dir: string): string[] {
  return existsSync(path.join(dir, 'calls.log')) ? readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n') : [];
}

describe('Slurm batch script', () => {
  it('bash -n; shellcheck where installed', () => {
    const n = spawnSync('bash', ['-n', SBATCH], { encoding: 'utf8' });
    assert.equal(n.status, 0, n.stderr);
    if (has('shellcheck', '--version')) {
      const r = spawnSync('shellcheck', [SBATCH], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stdout);
    }
  });

  it('requeues; workers one per task with --gpus-per-task=1 and --gpu 0; the coordinator on the first node', () => {
    const text = read('deploy/slurm/sam-lora.sbatch');
    assert.match(text, /^#SBATCH --requeue$/m);
    assert.match(text, /^#SBATCH --gpus-per-task=1$/m);
    const inv = scriptInvocations('deploy/slurm/sam-lora.sbatch');
    const worker = inv.find((i) => i.argv[0] === 'worker')!;
    assert.equal(flagValue(worker.argv, '--gpu'), '0');
    const workerLine = text.split('\n').find((l) => /^srun .*--gpus-per-task=1/.test(l));
    assert.ok(workerLine, 'the worker step asks for one GPU per task');
    assert.ok(text.split('\n').some((l) => /^srun --nodes=1 --ntasks=1 /.test(l)), 'the coordinator step: one task on one node');
    const coordinator = inv.find((i) => i.argv[0] === 'coordinator')!;
    assert.ok(flagValue(coordinator.argv, '--token-file') && flagValue(worker.argv, '--token-file'), 'the token from a file');
  });

  const env = (dir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
    const s = standIns(dir);
    return {
      PATH: s.path,
      HOME: path.join(dir, 'home'),
      SLURM_SUBMIT_DIR: dir,
      SLURM_JOB_NAME: 'sam-lora',
      SLURM_JOB_ID: '1234',
      SLURM_NTASKS: '2',
      SLURM_JOB_NODELIST: 'node[1-2]',
      ...extra,
    };
  };

  it('the coordinator runs with --auto-resume; its exit 0 (completed) ends the job, a failure says how to resume', () => {
    const dir = path.join(tmp, 'slurm');
    mkdirSync(dir);
    let r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env: env(dir), timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /runs\/sam-lora: completed/);
    const first = calls(dir);
    const coordinator = first.find((l) => l.startsWith('sam-lora coordinator'))!;
    assert.match(coordinator, new RegExp(`--run-dir ${dir}/runs/sam-lora --auto-resume `), 'a restart or a resubmission resumes');
    assert.match(coordinator, /--listen 0\.0\.0\.0:21234 .*--min-workers 2 /);
    assert.ok(first.includes(`sam-lora worker --coordinator node1:21234 --gpu 0 --token-file ${dir}/home/.config/sam-lora/token`), first.join('\n'));
    const token = path.join(dir, 'home', '.config', 'sam-lora', 'token');
    assert.equal(statSync(token).mode & 0o777, 0o600, 'the token file is readable by the user only');
    assert.match(readFileSync(token, 'utf8'), /^[0-9a-f]{64}$/);

    r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env: env(dir, { STAND_IN_RC: '1' }), timeout: 30_000 });
    assert.equal(r.status, 1, 'the coordinator failed: so does the job, with how to resume');
    assert.match(r.stderr, /exited with status 1 before the run completed; sbatch again with RUN=sam-lora to resume/);
    assert.equal(calls(dir).filter((l) => l.startsWith('scontrol requeue')).length, 0, 'no requeue without the time limit');

    chmodSync(token, 0o644);
    r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env: env(dir), timeout: 30_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /readable by you only/);
  });

  it('HOST_GROUPS=1: an aggregator per node, the workers through it, the coordinator waiting for every worker', () => {
    const dir = path.join(tmp, 'slurm-groups');
    mkdirSync(dir);
    const r = spawnSync('bash', [SBATCH], { encoding: 'utf8', env: env(dir, { HOST_GROUPS: '1', SLURM_JOB_NUM_NODES: '1', SLURM_NTASKS: '4' }), timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    const c = calls(dir);
    const token = `${dir}/home/.config/sam-lora/token`;
    assert.match(c.find((l) => l.startsWith('sam-lora coordinator'))!, /--min-workers 4 /, 'the aggregators\' workers count');
    assert.ok(c.includes(`sam-lora aggregator --coordinator node1:21234 --listen 127.0.0.1:21236 --token-file ${token}`), c.join('\n'));
    assert.ok(c.includes(`sam-lora worker --coordinator node1:21234 --aggregator 127.0.0.1:21236 --gpu 0 --token-file ${token}`), c.join('\n'));
  });

  it('near the time limit (USR1): the coordinator is stopped and the job requeues itself', async () => {
    const dir = path.join(tmp, 'slurm-requeue');
    mkdirSync(dir);
    const child = spawn('bash', [SBATCH], { env: env(dir, { STAND_IN_WAIT: '1' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.resume();
    const exited = exitOf(child);
    const t0 = Date.now();
    while (!calls(dir).some((l) => l.startsWith('sam-lora coordinator'))) {
      assert.ok(Date.now() - t0 < 20_000, 'the coordinator starts');
      await sleep(50);
    }
    await sleep(200);
    child.kill('SIGUSR1');
    assert.equal(await exited, 0);
    assert.ok(calls(dir).includes('scontrol requeue 1234'), calls(dir).join('\n'));
    assert.doesNotMatch(stdout, /completed/, 'the coordinator stopped (143), it did not complete');
  });
});

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}
