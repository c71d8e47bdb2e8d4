// `sam-lora serve`: the web demo (tools/serve/): upload an image, draw a box or click points,
// see base SAM's mask and the LoRA's side by side.

import { describeModel } from '../tools/evaluation/eval_model.js';
import { DEFAULT_SEGMENTER_LIMITS, Segmenter } from '../tools/serve/segmenter.js';
import { DEFAULT_MAX_UPLOAD_BYTES, startServer } from '../tools/serve/server.js';
import { loadServeModels } from '../tools/serve/serve_models.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { MODEL_ARG_OPTIONS, modelArgs } from './model_args.js';

export const DEFAULT_LISTEN = '127.0.0.1:7860';

const USAGE = `usage: sam-lora serve [--config FILE | --checkpoint SAM.pth] [--lora FILE] [--listen HOST:PORT]
                      [--max-upload-mb N] [--set KEY=VALUE ...]

  A web page to try a LoRA: upload an image (or drop it on the page), drag a box or click points on
  it, and see the mask of the untuned model ("base") and of the LoRA side by side, with SAM's
  predicted IoU. Behind it, a JSON API: GET /api/info, POST /api/images (the image's bytes), POST
  /api/predict ({"image", "box", "points"}); see README.md, "Web demo". Each image is encoded once per
  model; new prompts on it run only the mask decoder. Requests run one at a time.

  --config FILE       training config giving the SAM weights (default: the embedded demo config, with
                      the bundled base model; a run directory's config.yaml names a demo run's)
  --checkpoint FILE   SAM checkpoint (.pth or .safetensors); sets model.checkpoint
  --lora FILE         a LoRA file (native or reference format) or a checkpoint directory (its
                      lora.safetensors); decoder.safetensors beside it, if any, replaces the mask
                      decoder (as in sam-lora eval). Without it the page shows the base model only
  --listen HOST:PORT  where to listen (default ${DEFAULT_LISTEN}; port 0: any free port; use
                      0.0.0.0:PORT to accept other machines: there is no authentication)
  --max-upload-mb N   largest image file accepted, in MB (default ${DEFAULT_MAX_UPLOAD_BYTES / (1 << 20)}); images over
                      ${DEFAULT_SEGMENTER_LIMITS.maxPixels / 1e6} megapixels are refused too
  --set KEY=VALUE     override a config key (repeatable), e.g. --set runtime.device=cuda

  Prints the page's address on stdout, one line per request on stderr. Ctrl-C or SIGTERM stops it
  (after the request being computed). Exit status: 0 stopped, 1 failed to start (the message says
  why), 2 usage error.
`;

/** "HOST:PORT", "[IPv6]:PORT" or "PORT" (on 127.0.0.1). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:(\[[0-9A-Fa-f:.]+\]|[^:[\]]+):)?(\d+)$/.exec(text.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new UsageError(`--listen takes HOST:PORT with a port in 0..65535 (got "${text}")`);
  const host = m[1] === undefined ? '127.0.0.1' : m[1].replace(/^\[(.*)\]$/, '$1');
  return { host, port };
}

function parseMegabytes(text: string): number {
  const mb = Number(text);
  if (!(Number.isFinite(mb) && mb > 0)) throw new UsageError(`--max-upload-mb takes a positive number (got "${text}")`);
  return Math.floor(mb * (1 << 20));
}

/** Resolves on the first SIGINT / SIGTERM; a second one quits at once. */
function stopSignal(): { stopped: Promise<string>; dispose: () => void } {
  let first = true;
  let resolve: (name: string) => void = () => undefined;
  const stopped = new Promise<string>((r) => (resolve = r));
  const onSignal = (name: NodeJS.Signals): void => {
    if (!first) process.exit(130);
    first = false;
    resolve(name);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    stopped,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

const SERVE_OPTIONS = {
  ...MODEL_ARG_OPTIONS,
  listen: { type: 'string' },
  'max-upload-mb': { type: 'string' },
} as const;

async function runServeCommand({ values }: ParsedArgs<typeof SERVE_OPTIONS>): Promise<number> {
  const listen = parseListen(values.listen ?? DEFAULT_LISTEN);
  const maxUploadBytes = values['max-upload-mb'] === undefined ? DEFAULT_MAX_UPLOAD_BYTES : parseMegabytes(values['max-upload-mb']);
  const models = await loadServeModels(modelArgs(values));
  process.stderr.write(`SAM: ${models.info.variant}, ${models.info.weights}, on ${models.info.device}\n`);
  for (const m of models.models) process.stderr.write(`${describeModel(m.model)}\n`);
  const segmenter = new Segmenter(models);
  let server;
  try {
    server = await startServer(segmenter, models.info, { ...listen, maxUploadBytes, log: (line) => process.stderr.write(`${line}\n`) });
  } catch (err) {
    await segmenter.close();
    throw err;
  }
  // Until here a signal just ends the process (nothing to clean up); from here it closes the server.
  const signal = stopSignal();
  try {
    const shown = models.models.length > 1 ? 'base SAM and the LoRA side by side' : 'base SAM only: no --lora given';
    process.stdout.write(`sam-lora serve: ${server.url} (${shown}); Ctrl-C stops\n`);
    const name = await signal.stopped;
    process.stderr.write(`${name}: stopping (after the request being computed); press Ctrl-C again to quit at once\n`);
    await server.close();
    process.stderr.write('stopped\n');
    return 0;
  } finally {
    signal.dispose();
  }
}

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'web demo: draw a box or points on an image, see base SAM and the LoRA side by side (JSON API too)',
  usage: USAGE,
  options: SERVE_OPTIONS,
  run: runServeCommand,
});
