// The frozen SAM weights as a worker holds them: only while a graph is being built. Once ORT has its
// own copy (the training session, the evaluation sessions), the JavaScript copy (0.37 GB for ViT-B)
// is dead weight at the training step's peak, so it is dropped and read back when a new graph needs it.

import type { StateDict } from '../shared/sam/params.js';
import { collectGarbage } from './collect_garbage.js';

export class FrozenWeights {
  private state: StateDict | null;

  /** reload: reads the weights again (the checkpoint, or the seeded generator); none: never released (shared). */
  constructor(
    state: StateDict,
    private readonly reload?: () => Promise<StateDict>,
  ) {
    this.state = state;
  }

  /** The weights, read back if they were released. */
  async take(): Promise<StateDict> {
    this.state ??= await this.reload!();
    return this.state;
  }

  /**
   * Drops this holder's reference and collects it now, before the next session run's peak; a no-op
   * without a reload (someone else shares the weights) or when already released.
   */
  release(): void {
    if (!this.reload || this.state === null) return;
    this.state = null;
    collectGarbage();
  }

  /** Whether the weights are in memory here now. */
  get held(): boolean {
    return this.state !== null;
  }
}
