/**
 * Environment variable names shared by the infrastructure (`lib/`) and the runtime (`functions/`).
 *
 * The place that sets a variable also grants the access it implies, so keep the names here and nowhere else.
 */
export const Env = {
  /** DynamoDB table holding jobs, queue registry and idempotency keys. */
  TABLE_NAME: 'RELAY_TABLE_NAME',
  /** Endpoint override for DynamoDB (local stack only). */
  DYNAMODB_ENDPOINT: 'RELAY_DYNAMODB_ENDPOINT',
  /** Number of index shards a new queue gets (1 means strict ordering for every queue). */
  QUEUE_SHARDS: 'RELAY_QUEUE_SHARDS',
  /** The most shards a queue grows to when writes to it are throttled. */
  QUEUE_MAX_SHARDS: 'RELAY_QUEUE_MAX_SHARDS',
  /** Comma-separated queue names that are created with strict ordering (one shard). */
  STRICT_QUEUES: 'RELAY_STRICT_QUEUES',
  /** Days a completed, dead or cancelled job stays readable before TTL removes it. */
  RETENTION_DAYS: 'RELAY_RETENTION_DAYS',
  /** Hours an idempotency key blocks a second enqueue with the same key. */
  IDEMPOTENCY_TTL_HOURS: 'RELAY_IDEMPOTENCY_TTL_HOURS',
  /** SQS queue that carries dispatch hints for managed jobs. */
  DISPATCH_QUEUE_URL: 'RELAY_DISPATCH_QUEUE_URL',
  /** SQS dead-letter queue of the dispatch queue. */
  DISPATCH_DLQ_URL: 'RELAY_DISPATCH_DLQ_URL',
  /** Endpoint override for SQS (local stack only). */
  SQS_ENDPOINT: 'RELAY_SQS_ENDPOINT',
  /** ECS cluster that runs long managed jobs as Fargate tasks. */
  RUNNER_CLUSTER: 'RELAY_RUNNER_CLUSTER',
  /** The runner's task definition, and its container's name. */
  RUNNER_TASK_DEFINITION: 'RELAY_RUNNER_TASK_DEFINITION',
  RUNNER_CONTAINER: 'RELAY_RUNNER_CONTAINER',
  /** Comma-separated subnets and security groups of runner tasks. */
  RUNNER_SUBNETS: 'RELAY_RUNNER_SUBNETS',
  RUNNER_SECURITY_GROUPS: 'RELAY_RUNNER_SECURITY_GROUPS',
  /** `true` to give runner tasks a public IP (public subnets without a NAT gateway). */
  RUNNER_PUBLIC_IP: 'RELAY_RUNNER_PUBLIC_IP',
  /**
   * The executor Lambda function that runs inline commands, one per invocation, under a role with no
   * permissions. Unset (locally, in tests): inline runs execute in the dispatcher's own runner.
   */
  EXECUTOR_FUNCTION: 'RELAY_EXECUTOR_FUNCTION',
  /**
   * Who commands run as when the process that starts them is root: `uid[:gid]`, or a range
   * `first-last` from which each concurrent run takes its own uid (gid = uid). Ignored otherwise.
   */
  COMMAND_USER: 'RELAY_COMMAND_USER',
  /** JSON `{ "<queue or *>": ["/exact/path", "/prefix/*"] }`: the commands each queue may run. Unset: any. */
  ALLOWED_COMMANDS: 'RELAY_ALLOWED_COMMANDS',
  /** Seconds a managed job's command may run when its payload gives no `timeout`. @default 300 */
  COMMAND_TIMEOUT: 'RELAY_COMMAND_TIMEOUT',
  /** `emf` or `off`: job metrics as CloudWatch EMF lines on stdout. Unset: `emf` on Lambda, else `off`. */
  METRICS: 'RELAY_METRICS',
  /** This Relay's name in its metrics, the `relay` dimension: `<stack name>/<construct path>`. */
  NAME: 'RELAY_NAME',
  /**
   * Comma-separated queues whose metrics get a series of their own (a `queue` dimension); `*` for
   * every queue. Unset: every queue. The rest count only in the series over all queues.
   */
  METRIC_QUEUES: 'RELAY_METRIC_QUEUES',
} as const;

export type EnvName = (typeof Env)[keyof typeof Env];
