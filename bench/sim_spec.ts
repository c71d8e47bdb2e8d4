// What one link simulation runs (bench/link_sim.ts): the cluster's shape, the links, the tensors.
// Plain data: it crosses to the cluster's thread (bench/sim_cluster.ts) as workerData.

/**
 * How the GPUs reach the coordinator:
 * - direct: every GPU is a worker of the coordinator (today's star; its host's workers share the host's NIC);
 * - aggregators: one real aggregator per host (aggregator/run_aggregator.ts) with the host's GPUs as its workers over loopback;
 * - host_endpoints: one stand-in per host carrying its GPUs' share (samples, `workers`) and one partial
 *   sum: to the coordinator, exactly what an aggregator is (the coordinator's level of host groups).
 */
export type SimMode = 'direct' | 'aggregators' | 'host_endpoints';

export interface SimLinks {
  /** Bandwidth of every NIC (coordinator's and each host's), per direction; null: no proxies at all (plain loopback). */
  gbps: number | null;
  /** One-way latency between a host and the coordinator. */
  latencyMs: number;
  /** Loopback bandwidth inside a host (worker <-> aggregator), per host and direction. */
  loopbackGbps: number;
}

export interface SimSpec {
  hosts: number;
  gpusPerHost: number;
  mode: SimMode;
  /** The trainable tensors: name and shape. */
  shapes: [string, number[]][];
  /** Simulated GPU time of a step (ms). */
  stepMs: number;
  links: SimLinks;
  /**
   * The coordinator's endpoints (direct, host_endpoints) are lean stand-ins (bench/lean_endpoint.ts:
   * no decoding, one shared encoded gradient) instead of the real worker client: the coordinator's
   * level alone, without the endpoints' own work serialized on this host's cores.
   */
  lean: boolean;
}

/** Endpoints the coordinator talks to. */
export function coordinatorEndpoints(s: SimSpec): number {
  return s.mode === 'direct' ? s.hosts * s.gpusPerHost : s.hosts;
}

/**
 * Workers the coordinator counts for min_workers once every endpoint joined: a real aggregator
 * reports its group's size (GroupSize), a stand-in endpoint counts as one.
 */
export function coordinatorWorkers(s: SimSpec): number {
  return s.mode === 'aggregators' ? s.hosts * s.gpusPerHost : coordinatorEndpoints(s);
}

/** Messages from the cluster's thread to the coordinator's. */
export type ClusterMessage =
  | { kind: 'ready' }
  | { kind: 'counters'; bytesIn: number; bytesOut: number }
  | { kind: 'done'; eventLoopUtilization: number }
  | { kind: 'failed'; error: string };

/** Messages from the coordinator's thread to the cluster's. */
export type CoordinatorCommand = { kind: 'counters' } | { kind: 'measure_from_now' } | { kind: 'stop' };

/** Deterministic finite values for the spec's tensors (the stand-in gradient, the initial weights). */
export function simTensors(shapes: SimSpec['shapes'], seed: number): Map<string, Float32Array> {
  return new Map(shapes.map(([k, s]) => [k, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + seed) * 1e-3)]));
}
