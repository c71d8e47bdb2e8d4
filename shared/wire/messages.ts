// Hand-written TypeScript shapes of the messages in proto/samlora/v1/coordinator.proto and
// proto/grpc/health/v1/health.proto, as @grpc/proto-loader hands them over with the options of
// proto_loader.ts (keepCase, longs: Number, enums: String, defaults, oneofs):
//   - field names are the proto's snake_case names;
//   - int64/uint64 are JS numbers (exact up to 2^53; every counter here stays far below);
//   - enums are their value names, or the bare number for a value this build does not know
//     (a newer or hostile peer) — hence WireEnum, which receivers must check;
//   - every scalar is present (defaults applied); an absent sub-message is null;
//   - a oneof adds a discriminator property naming the member that is set (absent when none is).
// The same shapes are used to send: protobufjs ignores the discriminators, and null sub-messages
// are left out. Import as a namespace (`import type * as pb from './messages.js'`): several names
// (SampleBytes, SampleTask, EvalResult...) are also the in-process types of shared/contract/worker_endpoint.ts.

/** An enum as received: its value name, or the number of a value this side does not know. */
export type WireEnum<Name extends string> = Name | number;

// ---------------------------------------------------------------------------------------------
// Common types

/** Tensor element encoding on the wire (samlora.v1.Encoding). */
export type Encoding = 'FP32' | 'BF16';
/** samlora.v1.DatasetFormat. */
export type DatasetFormat = 'DATASET_FORMAT_UNSPECIFIED' | 'DATASET_FORMAT_REFERENCE' | 'DATASET_FORMAT_INSTANCE' | 'DATASET_FORMAT_COCO';
/** samlora.v1.Split. */
export type Split = 'SPLIT_TEST' | 'SPLIT_TRAIN';

export interface ModelFingerprint {
  variant: string;
  checkpoint_sha256: string;
  lora_layout_hash: string;
}

export interface TensorInfo {
  name: string;
  shape: number[];
}

export interface TensorChunk {
  name: string;
  shape: number[];
  encoding: WireEnum<Encoding>;
  offset_elements: number;
  total_elements: number;
  /** Received as a Buffer (possibly a view into a larger, unaligned buffer). */
  data: Uint8Array;
  last: boolean;
}

export interface PackedTensors {
  encoding: WireEnum<Encoding>;
  offset_elements: number;
  total_elements: number;
  /** Received as a Buffer (possibly a view into a larger, unaligned buffer). */
  data: Uint8Array;
  last: boolean;
}

export interface FailedSample {
  id: string;
  reason: string;
}

// ---------------------------------------------------------------------------------------------
// Join

export interface Capabilities {
  device: string;
  gpu_index: number;
  threads: number;
  hostname: string;
  cuda_available: boolean;
  /** Host group (since protocol 4); empty or absent: the hostname. */
  group?: string;
}

export interface JoinRequest {
  protocol_version: number;
  software_version: string;
  capabilities: Capabilities | null;
}

export interface JoinReply {
  worker_id: string;
  run_id: string;
  config_yaml: string;
  fingerprint: ModelFingerprint | null;
  samples_as_bytes: boolean;
  max_message_bytes: number;
  tensor_encoding: WireEnum<Encoding>;
  heartbeat_interval_ms: number;
  coordinator_timeout_ms: number;
}

// ---------------------------------------------------------------------------------------------
// Session: worker -> coordinator

export interface Hello {
  worker_id: string;
  loaded: ModelFingerprint | null;
}

export interface Heartbeat {
  unix_millis: number;
  sequence: number;
}

export interface GroupSize {
  workers: number;
}

export interface SampleOutcome {
  id: string;
  loss: number;
  weight: number;
}

export interface StepResultHeader {
  step: number;
  weight_sum: number;
  loss_sum: number;
  samples: SampleOutcome[];
  failed: FailedSample[];
  compute_seconds: number;
  grads: TensorInfo[];
  weights_hash: string;
  /** 0 when the worker did not report it. */
  peak_rss_bytes: number;
  /** fp16 runs: the scaled gradients overflowed; `grads` is empty. */
  overflow: boolean;
  /** Workers that computed it (an aggregator's group; since protocol 4); 0 or absent: one. */
  workers?: number;
}

export interface EvalScore {
  id: string;
  dice: number;
  iou: number;
  objects: number;
}

export interface EvalResult {
  request_id: number;
  scores: EvalScore[];
  failed: FailedSample[];
}

export interface WorkerError {
  code: string;
  message: string;
  fatal: boolean;
  step: number;
}

// ---------------------------------------------------------------------------------------------
// Session: coordinator -> worker

export interface Welcome {
  worker_id: string;
}

export interface Refusal {
  reason: string;
}

export interface WeightsHeader {
  version: number;
  tensors: TensorInfo[];
}

export interface Polygon {
  xy: number[];
}

export interface RleCounts {
  counts: number[];
}

export interface Rle {
  size: number[];
  /** Oneof discriminator: which of uncompressed / compressed is set. */
  counts?: 'uncompressed' | 'compressed';
  uncompressed?: RleCounts;
  compressed?: string;
}

export interface CocoObject {
  /** Oneof discriminator. */
  annotation_id?: 'annotation_id_number' | 'annotation_id_string';
  annotation_id_number?: number;
  annotation_id_string?: string;
  category_id: number;
  iscrowd: boolean;
  polygons: Polygon[];
  rle: Rle | null;
}

export interface CocoImageInfo {
  /** Oneof discriminator. */
  image_id?: 'image_id_number' | 'image_id_string';
  image_id_number?: number;
  image_id_string?: string;
  width: number;
  height: number;
  annotation_file: string;
  objects: CocoObject[];
}

export interface SampleBytes {
  format: WireEnum<DatasetFormat>;
  id: string;
  image_name: string;
  image: Uint8Array;
  mask_name: string;
  mask: Uint8Array;
  coco: CocoImageInfo | null;
}

export interface SampleTask {
  id: string;
  bytes: SampleBytes | null;
}

export interface StepAssignment {
  epoch: number;
  step: number;
  weights_version: number;
  samples: SampleTask[];
  /** fp16 runs: the loss scale; 0 in fp32 runs. */
  loss_scale: number;
}

export interface EvalAssignment {
  request_id: number;
  weights_version: number;
  split: WireEnum<Split>;
  samples: SampleTask[];
}

/** samlora.v1.StopKind. */
export type StopKind = 'STOP_KIND_UNSPECIFIED' | 'STOP_RUN_COMPLETE' | 'STOP_EVICTED' | 'STOP_COORDINATOR_STOPPING';

export interface Stop {
  reason: string;
  kind: WireEnum<StopKind>;
  reconnect_after_ms: number;
}

// ---------------------------------------------------------------------------------------------
// The two stream envelopes (oneof kind)

/** Members of WorkerMessage.kind. */
export interface WorkerMessageKinds {
  hello: Hello;
  heartbeat: Heartbeat;
  step_result: StepResultHeader;
  eval_result: EvalResult;
  tensor: TensorChunk;
  error: WorkerError;
  packed: PackedTensors;
  group_size: GroupSize;
}

/** Members of CoordinatorMessage.kind. */
export interface CoordinatorMessageKinds {
  welcome: Welcome;
  refusal: Refusal;
  weights: WeightsHeader;
  tensor: TensorChunk;
  step: StepAssignment;
  eval: EvalAssignment;
  stop: Stop;
  packed: PackedTensors;
  heartbeat: Heartbeat;
  sample: SampleBytes;
}

/**
 * A received oneof envelope: `kind` names the member that is set, so `switch (m.kind)` narrows.
 * `kind` is undefined when no member is set (an empty message, or a member this build does not know).
 */
export type ReceivedOneof<Members> =
  | { [K in keyof Members]: { kind: K } & { [P in K]: Members[K] } }[keyof Members]
  | { kind?: undefined };

/** An envelope to send: exactly one member. */
export type OneofToSend<Members> = { [K in keyof Members]: { [P in K]: Members[K] } }[keyof Members];

/** A WorkerMessage as the coordinator receives it. */
export type WorkerMessage = ReceivedOneof<WorkerMessageKinds>;
/** A WorkerMessage as the worker sends it. */
export type WorkerMessageOut = OneofToSend<WorkerMessageKinds>;
/** A CoordinatorMessage as the worker receives it. */
export type CoordinatorMessage = ReceivedOneof<CoordinatorMessageKinds>;
/** A CoordinatorMessage as the coordinator sends it. */
export type CoordinatorMessageOut = OneofToSend<CoordinatorMessageKinds>;

// ---------------------------------------------------------------------------------------------
// grpc.health.v1

export type ServingStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthCheckRequest {
  service: string;
}

export interface HealthCheckResponse {
  status: WireEnum<ServingStatus>;
}
