// Training progress: steps, samples and epochs done, skipped steps, the current loss (and whether it
// is finite, for alerting), the learning rate, fp16's loss scale and overflows, and where the run
// stands against its plan.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';

export function progressMetrics(registry: Registry): RunEventSink {
  const registers = [registry];
  const steps = new Counter({ name: 'samlora_steps_total', help: 'Training steps done by this process (skipped steps included).', registers });
  const samples = new Counter({ name: 'samlora_samples_total', help: 'Training samples (images) trained by this process; failed samples excluded.', registers });
  const epochs = new Counter({ name: 'samlora_epochs_total', help: 'Epochs completed by this process.', registers });
  const skipped = new Counter({ name: 'samlora_skipped_steps_total', help: 'Steps whose optimizer update was skipped (non-finite loss or gradient, or no trainable sample).', registers });
  const step = new Gauge({ name: 'samlora_step', help: 'Number of the last step done, counted over resumes (summary.json steps).', registers });
  const planned = new Gauge({ name: 'samlora_steps_planned', help: 'Steps the whole run is planned to take (epochs x steps per epoch).', registers });
  const epoch = new Gauge({ name: 'samlora_epoch', help: 'Current epoch, counted from 1.', registers });
  const loss = new Gauge({ name: 'samlora_loss', help: 'Training loss of the last step (mean over its samples).', registers });
  const finite = new Gauge({ name: 'samlora_loss_finite', help: '1 when the last step loss was finite, 0 when it was NaN or infinite.', registers });
  const lr = new Gauge({ name: 'samlora_learning_rate', help: 'Learning rate of the last step (schedule applied).', registers });
  const lossScale = new Gauge({ name: 'samlora_loss_scale', help: 'fp16 runs: the dynamic loss scale after the last step (the next step runs with it); 0 in fp32 runs.', registers });
  const overflows = new Counter({ name: 'samlora_overflow_steps_total', help: 'fp16 runs: steps skipped because their scaled gradients overflowed fp16 (each halves the loss scale).', registers });
  return (e) => {
    switch (e.kind) {
      case 'run_started':
        planned.set(e.info.totalSteps);
        step.set(e.info.startStep);
        lr.set(e.info.lr);
        return;
      case 'step':
        steps.inc();
        samples.inc(e.images);
        if (e.skipped) skipped.inc();
        step.set(e.step);
        epoch.set(e.epoch);
        loss.set(e.loss);
        finite.set(Number.isFinite(e.loss) ? 1 : 0);
        lr.set(e.lr);
        if (e.lossScale !== undefined) lossScale.set(e.lossScale);
        if (e.overflow) overflows.inc();
        return;
      case 'epoch_done':
        epochs.inc();
        return;
      default:
        return;
    }
  };
}
