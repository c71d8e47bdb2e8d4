// The training configuration: YAML files (ours and the reference project's), defaults, overrides,
// validation into one ConfigError, and the resolved TrainConfig. See README.md, "Configuration".

export { ConfigError, type ConfigProblem, type ProblemSource, formatProblems } from './errors.js';
export { DEFAULT_CONFIG_YAML, DEFAULT_SOURCE, TINY_VARIANT, defaultRawConfig } from './defaults.js';
export { type CustomVariant, type Precision, PRECISIONS, type RawConfig, REFERENCE_KEYS, type TrainConfig, rawConfigSchema } from './schema.js';
export { type ParseOptions, applyOverrides, configToYaml, loadConfig, parseConfigText, parseSetArgs, toRawConfig } from './load.js';
export { blockProblems, checkModelFit, declaredModelConfig, loraSpecFor, modelFitProblems, variantName } from './model_fit.js';
