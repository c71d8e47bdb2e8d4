// The training loop says some things twice: as a typed event and as a text line (its `log` event,
// for train.log and plain progress output). Observers that show typed events (the dashboard's event
// log, the pino logs, the one-line progress records) recognise those text lines here, so each fact
// appears once. The patterns follow the wording in trainer.ts; a test checks them against a real run.

/** The per-step progress line ("epoch 1/2 step 3/6 loss ..."), restating the `step` event. */
const STEP_LINE = /^epoch \d+\/\d+ step \d+\/\d+ loss /;
/** "eval before training: dice ...", "eval at step N: dice ...", restating `eval` events. */
const EVAL_LINE = /^eval (before training|after training|at step \d+): dice /;
/** "worker X evicted: ...", restating `worker_evicted`. */
const EVICTION_LINE = /^worker \S+ evicted: /;

export function isStepLine(text: string): boolean {
  return STEP_LINE.test(text);
}

/** Whether a text line of the trainer only restates a typed event. */
export function restatesTypedEvent(text: string): boolean {
  return STEP_LINE.test(text) || EVAL_LINE.test(text) || EVICTION_LINE.test(text);
}
