// Which execution provider ORT assigned each node to, read from an ORT profile (each node event
// carries args.provider). Lets a GPU worker say at start whether any node fell back to the CPU.

import { readFileSync } from 'node:fs';

interface ProfileEvent {
  cat?: string;
  name?: string;
  args?: { op_name?: string; provider?: string };
}

export interface Placement {
  /** Nodes per provider. */
  byProvider: Map<string, number>;
  /** Op types per provider. */
  opsByProvider: Map<string, Set<string>>;
}

export function placementFromProfile(file: string): Placement {
  const events = JSON.parse(readFileSync(file, 'utf8')) as ProfileEvent[];
  const seen = new Set<string>();
  const byProvider = new Map<string, number>();
  const opsByProvider = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.args?.provider) continue;
    if (seen.has(e.name)) continue;
    seen.add(e.name);
    const p = e.args.provider;
    byProvider.set(p, (byProvider.get(p) ?? 0) + 1);
    if (!opsByProvider.has(p)) opsByProvider.set(p, new Set());
    if (e.args.op_name) opsByProvider.get(p)!.add(e.args.op_name);
  }
  return { byProvider, opsByProvider };
}

export function describePlacement(p: Placement): string {
  const parts = [...p.byProvider].map(([provider, n]) => `${n} on ${provider}`);
  const cpu = p.byProvider.size > 1 ? p.opsByProvider.get('CPUExecutionProvider') : undefined;
  return `node placement: ${parts.join(', ') || 'not reported'}${cpu ? ` (on the CPU: ${[...cpu].sort().join(', ')})` : ''}`;
}
