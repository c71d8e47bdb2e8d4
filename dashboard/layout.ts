// Fixed heights for the dashboard's regions, from the terminal's size: every frame has exactly the
// same number of lines (one less than the terminal's rows, since a frame as tall as the terminal
// makes Ink clear the whole screen on each update, which flickers). Short terminals lose the chart's
// second line, the header's second line and the eval's second line first; the worker table and the
// event log share what is left.

export interface Layout {
  header: number;
  progress: number;
  loss: number;
  eval: number;
  /** Worker rows, below the table's own header line. */
  workerRows: number;
  /** Event log rows, below its title line. */
  logRows: number;
  footer: number;
  total: number;
}

export function layout(terminalRows: number, workers: number): Layout {
  const height = Math.max(10, terminalRows - 1);
  const roomy = height >= 17;
  const fixed = { header: roomy ? 2 : 1, progress: 3, loss: roomy ? 3 : 1, eval: roomy ? 2 : 1, footer: 1 };
  // +2: the worker table's header line and the event log's title line.
  const used = fixed.header + fixed.progress + fixed.loss + fixed.eval + fixed.footer + 2;
  const room = Math.max(0, height - used);
  const workerRows = Math.min(Math.max(1, workers), Math.max(1, Math.ceil(room / 2)), room);
  const logRows = Math.max(0, room - workerRows);
  return { ...fixed, workerRows, logRows, total: used + workerRows + logRows };
}
