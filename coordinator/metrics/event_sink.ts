// What each metrics collector is: a listener of the run's events that updates its own metrics.

import type { RunEvent } from '../run_events.js';

export type RunEventSink = (e: RunEvent) => void;
