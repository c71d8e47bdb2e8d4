// Child process of fuzzInChild: runs one target of fuzz_targets.ts and prints its FuzzReport as JSON.
// Usage: node fuzz_child.js TARGET SEED ITERATIONS SLOW_MS

import { runFuzz } from './fuzz.js';
import { FUZZ_TARGETS } from './fuzz_targets.js';

const [name = '', seed = '1', iterations = '100', slowMs = '2000'] = process.argv.slice(2);
const target = Object.hasOwn(FUZZ_TARGETS, name) ? FUZZ_TARGETS[name] : undefined;
if (!target) {
  process.stderr.write(`unknown fuzz target ${JSON.stringify(name)} (known: ${Object.keys(FUZZ_TARGETS).join(', ')})\n`);
  process.exit(2);
}
const report = await runFuzz(target, { seed: Number(seed), iterations: Number(iterations), slowMs: Number(slowMs) });
process.stdout.write(JSON.stringify(report));
