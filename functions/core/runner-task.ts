/**
 * What identifies a runner's Fargate task, shared by the runtime (which starts the tasks and reads
 * their events) and `lib/` (whose EventBridge rule matches them). Pure and dependency-free: CDK
 * synthesis loads it.
 */

/** `startedBy` of every task the Fargate executor starts; the task-stopped rule matches on it. */
export const RUNNER_STARTED_BY = 'relay';
