/** Lambda entry: the maintenance pass (functions/dispatch/maintenance.ts), on its schedule. */
import { type JobMetrics, metricsFromEnv } from '../core/metrics.ts';
import { type MaintenanceResult, maintain } from '../dispatch/maintenance.ts';
import { dispatchFromEnv, stopperFromEnv, storeFromEnv } from './services.ts';

let metrics: JobMetrics | undefined;

export async function handler(): Promise<MaintenanceResult> {
  metrics ??= metricsFromEnv();
  return maintain({
    store: storeFromEnv(),
    dispatch: dispatchFromEnv(),
    stopTask: stopperFromEnv(),
    metrics,
  });
}
