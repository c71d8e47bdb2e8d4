// Tests share the project's seeded generator.
export { Rng } from '../../shared/random/rng.js';
