// Configuration errors: one ConfigError lists every problem found, each naming the key as the user
// wrote it (`SAM.RANK`, `lora.rank`, `lora.blocks[2]`) and where it came from (file, line, column,
// or the command line).

export type ProblemSource = 'file' | 'command line';

export interface ConfigProblem {
  /** The key as written: `SAM.RANK`, `train.epochs`, `lora.blocks[2]`; '' for the file as a whole. */
  key: string;
  message: string;
  /** Where the offending value came from (default: the config file). */
  source?: ProblemSource;
  /** 1-based position in the config file, when known. */
  line?: number;
  column?: number;
}

export class ConfigError extends Error {
  /** The config file (absolute path), or the name of an in-memory source such as `<default config>`. */
  readonly file: string;
  readonly problems: ConfigProblem[];

  constructor(file: string, problems: ConfigProblem[]) {
    const sorted = sortProblems(problems);
    super(formatProblems(file, sorted));
    this.name = 'ConfigError';
    this.file = file;
    this.problems = sorted;
  }
}

/** `file:line:col: key: message`, one line per problem, under a header naming the file. */
export function formatProblems(file: string, problems: readonly ConfigProblem[]): string {
  const n = problems.length;
  const lines = sortProblems(problems).map((p) => `  ${problemLocation(file, p)}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`);
  return `invalid training configuration ${file} (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}

/** File problems by position (unpositioned ones after), then the command line's; stable otherwise. */
export function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const rank = (p: ConfigProblem): number => (p.source === 'command line' ? 2 : p.line === undefined ? 1 : 0);
  return [...problems].sort((a, b) => rank(a) - rank(b) || (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

function problemLocation(file: string, p: ConfigProblem): string {
  if (p.source === 'command line') return 'command line';
  if (p.line === undefined) return file;
  return p.column === undefined ? `${file}:${p.line}` : `${file}:${p.line}:${p.column}`;
}

/** Edit distance counting a swap of two neighbouring letters as one edit (optimal string alignment). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to a mistyped key, when one is close enough to be a likely typo. */
export function suggest(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const exactCase = candidates.find((c) => c.toLowerCase() === lower);
  if (exactCase !== undefined) return exactCase;
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  const limit = Math.max(1, Math.floor(key.length / 3));
  return bestD <= limit ? best : undefined;
}

/** A short description of a value for messages: `0`, `"two"`, `null`, `a list`, `a mapping`. */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `a list ${JSON.stringify(v)}`;
  return 'a mapping';
}
