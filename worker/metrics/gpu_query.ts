// GPU memory and utilisation of a CUDA worker's device from nvidia-smi, asked at scrape time:
// one bounded call (timeout, small output) shared by the gauges of one scrape, nothing running
// between scrapes.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import * as path from 'node:path';

export interface GpuSample {
  /** The GPU as nvidia-smi numbers it (physical index). */
  index: string;
  memoryUsedBytes: number | null;
  memoryTotalBytes: number | null;
  /** 0..1 */
  utilization: number | null;
}

const MIB = 1024 * 1024;

function field(text: string | undefined, scale: number): number | null {
  const v = Number(text?.trim());
  // nvidia-smi prints "[N/A]" or "[Not Supported]" (MIG slices, some boards).
  return text !== undefined && text.trim() !== '' && Number.isFinite(v) ? v * scale : null;
}

/** Parses `--query-gpu=index,memory.used,memory.total,utilization.gpu --format=csv,noheader,nounits`. */
export function parseNvidiaSmiCsv(text: string): GpuSample[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const [index, used, total, util] = line.split(',').map((s) => s.trim());
      if (!index || !/^\d+$/.test(index)) throw new Error(`unexpected nvidia-smi line: ${JSON.stringify(line.slice(0, 200))}`);
      return { index, memoryUsedBytes: field(used, MIB), memoryTotalBytes: field(total, MIB), utilization: field(util, 0.01) };
    });
}

/**
 * The nvidia-smi `-i` id of CUDA device `gpu`: nvidia-smi ignores CUDA_VISIBLE_DEVICES, so the
 * visible index is mapped through it (an index or a GPU-/MIG- UUID); without it, the same number.
 */
export function nvidiaSmiDevice(gpu: number, env: NodeJS.ProcessEnv = process.env): string {
  const visible = env.CUDA_VISIBLE_DEVICES?.split(',').map((s) => s.trim());
  return visible?.[gpu] || String(gpu);
}

/** The executable `name` on PATH, or undefined. */
export function findExecutable(name: string, pathVar: string | undefined = process.env.PATH): string | undefined {
  for (const dir of (pathVar ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface GpuQueryOptions {
  /** The nvidia-smi executable. */
  command: string;
  /** Its -i argument (nvidiaSmiDevice). */
  device: string;
  timeoutMs?: number;
  /** A settled answer younger than this is reused (default 0: a query in flight is always shared). */
  maxAgeMs?: number;
}

export class GpuQuery {
  private last?: { settledAt: number | undefined; result: Promise<GpuSample[]> };

  constructor(private readonly o: GpuQueryOptions) {}

  /** The GPU's numbers; the collectors of one scrape run together and share one call. */
  sample(): Promise<GpuSample[]> {
    const last = this.last;
    if (last && (last.settledAt === undefined || Date.now() - last.settledAt < (this.o.maxAgeMs ?? 0))) return last.result;
    const result = new Promise<GpuSample[]>((resolve, reject) => {
      execFile(
        this.o.command,
        ['--query-gpu=index,memory.used,memory.total,utilization.gpu', '--format=csv,noheader,nounits', '-i', this.o.device],
        { timeout: this.o.timeoutMs ?? 2000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024, encoding: 'utf8' },
        (err, stdout) => {
          if (err) return reject(new Error(`nvidia-smi failed: ${err.message.split('\n', 1)[0]}`));
          try {
            resolve(parseNvidiaSmiCsv(stdout));
          } catch (e) {
            reject(e instanceof Error ? e : new Error(String(e)));
          }
        },
      );
    });
    const entry: { settledAt: number | undefined; result: Promise<GpuSample[]> } = { settledAt: undefined, result };
    const settle = (): void => void (entry.settledAt = Date.now());
    result.then(settle, settle);
    this.last = entry;
    return result;
  }
}
