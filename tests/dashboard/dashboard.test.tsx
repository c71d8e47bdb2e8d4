// The dashboard rendered (ink-testing-library) from a real tiny run's state: what an operator sees
// (workers, progress, loss, evaluation, events), within the terminal's size at 80x24 and narrower,
// and the `q` key asking the run to stop.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { Dashboard } from '../../dashboard/app.js';
import { EvalPanel } from '../../dashboard/eval_panel.js';
import { EventLog } from '../../dashboard/event_log.js';
import { Header } from '../../dashboard/header.js';
import { LossChart } from '../../dashboard/loss_chart.js';
import { Progress } from '../../dashboard/progress.js';
import { RunStore } from '../../dashboard/run_store.js';
import { type RunState, initialRunState, reduceRunState } from '../../dashboard/run_state.js';
import { WorkersTable } from '../../dashboard/workers_table.js';
import { RunEvents } from '../../coordinator/run_events.js';
import { type RecordedEvent, recordedTinyRun } from '../helpers/recorded_run.js';

after(cleanup);

// eslint-disable-next-line no-control-regex
const stripAnsi = (s: string): string => s.replace(/\u001b\[[0-9;?]*[A-Za-z]/g, '');
const frameLines = (frame: string | undefined): string[] => stripAnsi(frame ?? '').split('\n');

/** A store fed the recorded events at their recorded times, published. */
function storeOf(events: readonly RecordedEvent[]): RunStore {
  const bus = new RunEvents();
  let now = 0;
  const store = new RunStore(bus, { now: () => now });
  for (const r of events) {
    now = r.at;
    bus.emit(r.event);
  }
  store.flush();
  store.close();
  return store;
}

const stateOf = (events: readonly RecordedEvent[]): RunState => events.reduce((s, r) => reduceRunState(s, r.event, r.at), initialRunState());

function assertFits(frame: string | undefined, columns: number, rows: number): string[] {
  const lines = frameLines(frame);
  assert.ok(lines.length <= rows - 1, `${lines.length} lines for a ${rows}-row terminal:\n${lines.join('\n')}`);
  for (const l of lines) assert.ok(l.length <= columns, `${l.length} > ${columns} columns: ${JSON.stringify(l)}`);
  return lines;
}

describe('dashboard', () => {
  it('at 80x24 shows the run, its progress, loss, evaluation, workers and events within the screen', async () => {
    const { events, summary } = await recordedTinyRun();
    const { lastFrame, unmount } = render(<Dashboard store={storeOf(events)} onStop={() => undefined} columns={80} rows={24} />);
    const lines = assertFits(lastFrame(), 80, 24);
    assert.equal(lines.length, 23, 'a fixed height: the terminal less one line');
    const text = lines.join('\n');
    assert.match(text, /sam-lora +completed/);
    assert.match(text, new RegExp(`step ${summary.steps}/${summary.steps} `));
    assert.match(text, /epoch 2\/2 /);
    assert.ok(text.includes(`loss ${summary.final_loss!.toFixed(4)}`), text);
    assert.match(text, /Dice +\d\.\d{4} [▲▼=][+-]\d\.\d{4} vs prev/);
    assert.match(text, /^local-0 .* cpu /m);
    assert.match(text, /^local-1 .* cpu /m);
    assert.match(text, /workers 2\/2/);
    assert.match(text, /checkpoint final at step \d+/);
    assert.match(text, /run completed/);
    unmount();
  });

  it('mid-run: running, with an ETA, active workers and the q hint', async () => {
    const { events } = await recordedTinyRun();
    const steps = events.filter((r) => r.event.kind === 'step');
    const cut = events.indexOf(steps[2]!) + 1;
    const { lastFrame, unmount } = render(<Dashboard store={storeOf(events.slice(0, cut))} onStop={() => undefined} columns={80} rows={24} />);
    const text = assertFits(lastFrame(), 80, 24).join('\n');
    assert.match(text, /sam-lora +running/);
    assert.match(text, /step 3\/6 .* eta \d+s/);
    // Step 3 ends the epoch with one sample: it goes to whichever worker is measured faster (share_plan.ts).
    assert.match(text, /^local-\d .* active /m);
    assert.match(text, /q +stop after this step/);
    unmount();
  });

  it('a narrow (50 columns) or short (12 rows) terminal still gets every region, cut to fit', async () => {
    const { events } = await recordedTinyRun();
    const store = storeOf(events);
    for (const [columns, rows] of [
      [50, 24],
      [30, 24],
      [80, 12],
    ] as const) {
      const { lastFrame, unmount } = render(<Dashboard store={store} onStop={() => undefined} columns={columns} rows={rows} />);
      const text = assertFits(lastFrame(), columns, rows).join('\n');
      assert.match(text, /step \d+\/\d+/, `${columns}x${rows}`);
      assert.match(text, /loss /, `${columns}x${rows}`);
      assert.match(text, /local-/, `${columns}x${rows}`);
      unmount();
    }
  });

  it('each region renders on its own from the real state', async () => {
    const { events, summary } = await recordedTinyRun();
    const s = stateOf(events);
    const frame = (el: React.ReactElement): string => {
      const r = render(el);
      const f = stripAnsi(r.lastFrame() ?? '');
      r.unmount();
      return f;
    };
    assert.match(frame(<Header state={s} width={80} height={2} />), /custom \(dim 32.* · rank 4 · cpu/);
    assert.match(frame(<Progress state={s} width={80} height={3} />), /img\/s · lr \d\.\de-\d · workers 2\/2/);
    const chart = frame(<LossChart state={s} width={40} height={3} />).split('\n');
    assert.match(chart[0]!, new RegExp(`last ${summary.steps} steps`));
    assert.match(chart.slice(1).join(''), /[▁▂▃▄▅▆▇█]/);
    assert.match(frame(<EvalPanel state={s} width={80} height={2} />), /IoU +\d\.\d{4}/);
    const table = frame(<WorkersTable state={s} width={80} rows={2} />);
    assert.match(table, /workers 2\/2 +host +device +state +step +img\/s +mem +loss +fail/);
    // Each worker reports its process's peak RSS with its steps.
    assert.match(table.split('\n')[1]!, / \d+M | \d\.\d\dG /);
    assert.match(frame(<EventLog state={s} width={80} rows={3} />), /^events ─+\n\d\d:\d\d:\d\d /);
  });

  it('q asks the run to stop and says it is stopping', async () => {
    const { events } = await recordedTinyRun();
    const steps = events.filter((r) => r.event.kind === 'step');
    let stops = 0;
    let ready!: () => void;
    const listening = new Promise<void>((resolve) => (ready = resolve));
    const store = storeOf(events.slice(0, events.indexOf(steps[0]!) + 1));
    const { stdin, stdout, lastFrame, unmount } = render(<Dashboard store={store} onStop={() => stops++} onReady={ready} columns={80} rows={24} />);
    await listening;
    // The footer follows on a later render (React schedules it; on a busy machine not within one
    // turn of the loop): wait for the frame that shows it, or fail after a bounded time.
    const write = stdout.write;
    let timer: NodeJS.Timeout | undefined;
    const saysStopping = new Promise<void>((resolve, reject) => {
      stdout.write = (frame: string): void => {
        write(frame);
        if (/stopping after this step…/.test(stripAnsi(frame))) resolve();
      };
      timer = setTimeout(() => reject(new Error(`no frame says it is stopping; the last:\n${stripAnsi(lastFrame() ?? '')}`)), 10_000);
    });
    stdin.write('x');
    assert.equal(stops, 0);
    stdin.write('q');
    assert.equal(stops, 1);
    try {
      await saysStopping;
    } finally {
      clearTimeout(timer);
    }
    assert.match(stripAnsi(lastFrame() ?? ''), /stopping after this step…/);
    unmount();
  });
});
