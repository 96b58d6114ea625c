/**
 * The operations of the native route groups: what their Lambda functions bundle and run. Each
 * handler entry imports only its own group's, so a function carries no other group's code (the
 * relay-rs group's are `relayOperations`; the local server takes all of them, `allOperations`).
 */
import { bulkOperations, managedBulkOperations } from './bulk-operations.ts';
import type { Operations } from './context.ts';
import { docsOperations } from './docs-operations.ts';
import { managedOperations } from './managed-operations.ts';
import { nativeOperations } from './native-operations.ts';
import { queueOperations } from './queue-operations.ts';
import { managedScheduleOperations, scheduleOperations } from './schedule-operations.ts';

// Functions, not constants: a bundle that never calls one leaves out the groups it names.

/** The native routes for pull jobs, queues and schedules. */
export const jobOperations = (): Operations => ({
  ...nativeOperations,
  ...bulkOperations,
  ...queueOperations,
  ...scheduleOperations,
  ...docsOperations,
});

/** The native routes that start commands. */
export const managedGroupOperations = (): Operations => ({
  ...managedOperations,
  ...managedBulkOperations,
  ...managedScheduleOperations,
});
