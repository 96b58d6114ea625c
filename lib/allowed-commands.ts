import { Env } from '../functions/core/env.ts';
import type { IWorkload } from './workload.ts';

/**
 * The commands each queue may run: queue name (or `*`, for every queue without an entry of its own)
 * → commands, each exactly as jobs give it (`/opt/jobs/report.sh`) or a prefix ending in `*`
 * (`/opt/jobs/*`).
 */
export type AllowedCommands = Readonly<Record<string, readonly string[]>>;

/**
 * Gives `workload` the allow-list it checks before a command starts, as the JSON the runtime reads
 * (`RELAY_ALLOWED_COMMANDS`). Without an allow-list any command may run, and nothing is set.
 */
export function addAllowedCommands(workload: IWorkload, allowed: AllowedCommands | undefined): void {
  if (allowed) workload.addEnvironment(Env.ALLOWED_COMMANDS, JSON.stringify(allowed));
}
