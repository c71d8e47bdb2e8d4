// Held-out evaluation: the last Dice and IoU (before, during and after training) and the best Dice.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';

export function evalMetrics(registry: Registry): RunEventSink {
  const registers = [registry];
  const dice = new Gauge({ name: 'samlora_eval_dice_ratio', help: 'Mean Dice (0..1) of the last held-out evaluation.', registers });
  const iou = new Gauge({ name: 'samlora_eval_iou_ratio', help: 'Mean IoU (0..1) of the last held-out evaluation.', registers });
  const best = new Gauge({ name: 'samlora_eval_best_dice_ratio', help: 'Best held-out mean Dice (0..1) during training.', registers });
  const evals = new Counter({ name: 'samlora_evals_total', help: 'Held-out evaluations done (before, during and after training).', registers });
  return (e) => {
    if (e.kind !== 'eval') return;
    evals.inc();
    dice.set(e.dice);
    iou.set(e.iou);
    if (e.best) best.set(e.dice);
  };
}
