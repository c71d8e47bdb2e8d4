// The human summary of a doctor report.

import type { DeviceReport, DoctorReport } from './doctor.js';

const mib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(2)} MiB`);

function deviceLine(d: DeviceReport): string[] {
  const head = `  ${d.device.padEnd(7)} ${d.ok ? 'ok  ' : 'FAIL'}${d.name ? `  ${d.name}` : ''}`;
  if (d.losses.length === 0) return [head, `          ${d.error ?? 'not run'}`];
  const lines = [head];
  lines.push(`          loss ${d.losses.map((l) => l.toFixed(6)).join(' -> ')}`);
  if (d.agreement) {
    const a = d.agreement;
    lines.push(`          vs CPU: loss ${a.lossRel.toExponential(2)} (<= ${a.tolerance.lossRel}), gradients ${a.gradRelL2.toExponential(2)} relative L2 (<= ${a.tolerance.gradRelL2}, TF32 ${a.tf32 ? 'on' : 'off'})`);
  }
  if (d.stepSeconds !== null) lines.push(`          step ${(d.stepSeconds * 1000).toFixed(1)} ms; copied per step ${mib(d.feedBytesPerStep ?? 0)} in, ${mib(d.fetchBytesPerStep ?? 0)} out`);
  lines.push(`          memory: ${d.peakMemoryBytes !== null ? `${mib(d.peakMemoryBytes)} (${d.memory})` : 'not measured (nvidia-smi did not list this process)'}`);
  const placement = Object.entries(d.placement).map(([p, n]) => `${n} on ${p.replace('ExecutionProvider', '')}`);
  lines.push(`          nodes: ${placement.join(', ') || 'placement not reported'}${d.cpuFallbackOps.length ? ` (on the CPU: ${d.cpuFallbackOps.join(', ')})` : ''}`);
  if (d.error) lines.push(`          ${d.error}`);
  return lines;
}

export function formatDoctorReport(r: DoctorReport): string {
  const out: string[] = [];
  const backends = r.onnxruntime.backends.map((b) => `${b.name}${b.bundled ? '' : ' (separate library)'}`).join(', ');
  out.push(`Node ${r.node} (${r.platform}); onnxruntime-node ${r.onnxruntime.version}, execution providers: ${backends}`);
  const p = r.cudaProvider;
  out.push('', `CUDA provider: ${p.library ? `installed (${p.library})` : `not installed (in ${p.nativeDir ?? 'onnxruntime-node/bin'})`}`);
  out.push(`  libraries it needs (${p.dependencySource}):`);
  const width = Math.max(...p.dependencies.map((d) => d.soname.length));
  for (const d of p.dependencies) out.push(`    ${d.soname.padEnd(width)}  ${d.path ?? `missing: ${d.fix}`}`);
  out.push(`  CUDA runtimes the loader finds: ${p.cudaRuntimes.length ? p.cudaRuntimes.map((m) => `CUDA ${m}`).join(', ') : 'none'}`);
  if (p.cuda13Only) out.push(`  ${p.cuda13Only}`);
  const s = r.cudaSettings;
  out.push(`  settings: TF32 ${s.useTf32 ? 'on' : 'off'}, memory limit ${s.gpuMemLimit ?? 'none'}, arena ${s.arenaExtendStrategy}, cuDNN search ${s.cudnnConvAlgoSearch}`);
  out.push('', `GPUs: ${r.nvidiaSmi.path ? `nvidia-smi at ${r.nvidiaSmi.path}` : 'nvidia-smi not found'}${r.nvidiaSmi.error ? ` (${r.nvidiaSmi.error})` : ''}`);
  for (const g of r.nvidiaSmi.gpus) out.push(`  ${g.index}: ${g.name}, ${g.memoryTotalBytes !== null ? mib(g.memoryTotalBytes) : '? memory'}, driver ${g.driver}, ${g.uuid}`);
  out.push('', `Training check: ${r.checkModel}, ${r.devices[0]?.losses.length ?? 0} steps`);
  for (const d of r.devices) out.push(...deviceLine(d));
  if (r.warnings.length) out.push('', 'Warnings:', ...r.warnings.map((w) => `  - ${w}`));
  if (r.problems.length) out.push('', 'Problems:', ...r.problems.map((w) => `  - ${w}`));
  out.push('', r.ok ? 'Result: OK' : `Result: FAILED (${r.problems.length} problem${r.problems.length === 1 ? '' : 's'})`);
  return `${out.join('\n')}\n`;
}
