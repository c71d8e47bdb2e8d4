// The GPUs nvidia-smi sees (name, memory, driver) and the GPU memory a process holds, from bounded
// nvidia-smi calls. nvidia-smi numbers GPUs physically; CUDA numbers those CUDA_VISIBLE_DEVICES shows.

import { execFile } from 'node:child_process';

export interface GpuInfo {
  /** nvidia-smi's (physical) index. */
  index: string;
  name: string;
  memoryTotalBytes: number | null;
  driver: string;
  uuid: string;
}

const MIB = 2 ** 20;

function mib(text: string): number | null {
  const v = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(v) ? v * MIB : null;
}

/** Parses `--query-gpu=index,name,memory.total,driver_version,uuid --format=csv,noheader,nounits`. */
export function parseGpuList(text: string): GpuInfo[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const f = line.split(',').map((s) => s.trim());
      // The name is the only field that could hold a comma: take the others from both ends.
      if (f.length < 5 || !/^\d+$/.test(f[0]!)) throw new Error(`unexpected nvidia-smi line: ${JSON.stringify(line.slice(0, 200))}`);
      return { index: f[0]!, name: f.slice(1, -3).join(', '), memoryTotalBytes: mib(f.at(-3)!), driver: f.at(-2)!, uuid: f.at(-1)! };
    });
}

/** Parses `--query-compute-apps=pid,used_memory --format=csv,noheader,nounits`: bytes per pid (summed over GPUs). */
export function parseComputeApps(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split('\n').map((l) => l.trim()).filter(Boolean)) {
    const [pid, used] = line.split(',').map((s) => s.trim());
    const p = Number(pid);
    const b = mib(used ?? '');
    if (!Number.isInteger(p) || b === null) continue; // "[N/A]" under some containers
    out.set(p, (out.get(p) ?? 0) + b);
  }
  return out;
}

export function runNvidiaSmi(command: string, args: readonly string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 256 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err) reject(new Error(`nvidia-smi failed: ${(stderr.trim() || err.message).split('\n', 1)[0]}`));
      else resolve(stdout);
    });
  });
}

export async function listGpus(command: string): Promise<GpuInfo[]> {
  return parseGpuList(await runNvidiaSmi(command, ['--query-gpu=index,name,memory.total,driver_version,uuid', '--format=csv,noheader,nounits']));
}

/** GPU memory held by process `pid` (all GPUs), or null when nvidia-smi does not list it. */
export async function processGpuMemory(command: string, pid: number = process.pid): Promise<number | null> {
  const apps = parseComputeApps(await runNvidiaSmi(command, ['--query-compute-apps=pid,used_memory', '--format=csv,noheader,nounits']));
  return apps.get(pid) ?? null;
}

/**
 * The CUDA device numbers this process can use, given the GPUs nvidia-smi lists: CUDA_VISIBLE_DEVICES
 * (indexes or UUIDs) selects and orders them; unset, all of them in order.
 */
export function visibleCudaDevices(gpus: readonly GpuInfo[], env: NodeJS.ProcessEnv = process.env): { cuda: number; gpu: GpuInfo | undefined }[] {
  const v = env.CUDA_VISIBLE_DEVICES;
  if (v === undefined) return gpus.map((gpu, cuda) => ({ cuda, gpu }));
  const ids = v.split(',').map((s) => s.trim()).filter(Boolean);
  const out: { cuda: number; gpu: GpuInfo | undefined }[] = [];
  for (const id of ids) {
    const gpu = gpus.find((g) => g.index === id || g.uuid === id || (id.startsWith('GPU-') && g.uuid.startsWith(id)));
    // CUDA stops at the first entry that names no GPU.
    if (!gpu && !id.startsWith('MIG-')) break;
    out.push({ cuda: out.length, gpu });
  }
  return out;
}
