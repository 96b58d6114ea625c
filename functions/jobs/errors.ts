/**
 * The job aggregate's error family. Each error names what went wrong in domain terms; the HTTP
 * edge (`functions/api/errors.ts`) is the one place that turns them into status codes and bodies.
 */
export abstract class JobError extends Error {
  protected constructor(
    /** The error class's name, spelled out because bundling minifies class names. */
    override readonly name: string,
    /** Stable machine-readable code, used in native API error bodies. */
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** No job with this id in this queue is in the state the caller needs (or, with a run id, in that run). */
export class JobNotFoundError extends JobError {
  constructor(
    readonly queue: string,
    readonly id: string,
    readonly runId?: string,
  ) {
    super(
      'JobNotFoundError',
      'job_not_found',
      `job with id \`${id}\` not found in queue \`${queue}\`${runId ? ` with ${runId}` : ''}.`,
    );
  }
}

/** A live job with this id already exists in this queue. */
export class JobExistsError extends JobError {
  constructor(
    readonly queue: string,
    readonly id: string,
  ) {
    super('JobExistsError', 'job_exists', `job with id \`${id}\` already exists in queue \`${queue}\`.`);
  }
}

/** The caller's run is not the job's current run: its lease was lost to another claim. */
export class LeaseLostError extends JobError {
  constructor(
    readonly queue: string,
    readonly id: string,
    readonly runId: string,
  ) {
    super(
      'LeaseLostError',
      'lease_lost',
      `run \`${runId}\` is not the current run of job \`${id}\` in queue \`${queue}\`.`,
    );
  }
}

/**
 * The job is not of the kind the call may act on: a managed job named on a route for pull jobs
 * (starting it again would run its command), or a pull job on a route for managed ones.
 */
export class JobKindError extends JobError {
  constructor(
    readonly queue: string,
    readonly id: string,
    /** The job's own kind. */
    readonly kind: 'pull' | 'managed',
    readonly action: string,
  ) {
    super(
      'JobKindError',
      'wrong_job_kind',
      kind === 'managed'
        ? `job \`${id}\` in queue \`${queue}\` is a managed job: to ${action} it runs its command again, ` +
            'which only the /v1/managed/ routes may do (they need the permission to run commands)'
        : `job \`${id}\` in queue \`${queue}\` is a pull job: ${action} it with the routes outside /v1/managed/`,
    );
  }
}

/** The job exists but its status does not allow the requested transition. */
export class InvalidTransitionError extends JobError {
  constructor(
    readonly action: string,
    readonly status: string,
  ) {
    super('InvalidTransitionError', 'invalid_transition', `cannot ${action} job with status: ${status}`);
  }
}

/** Another job was enqueued with the same idempotency key within the key's lifetime. */
export class DuplicateIdempotencyKeyError extends JobError {
  constructor(
    readonly queue: string,
    readonly key: string,
    readonly existingJobId: string,
  ) {
    super(
      'DuplicateIdempotencyKeyError',
      'duplicate_idempotency_key',
      `idempotency key \`${key}\` was already used in queue \`${queue}\` by job \`${existingJobId}\`.`,
    );
  }
}

/** A job's payload and state together would exceed the size a job may have. */
export class PayloadTooLargeError extends JobError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      'PayloadTooLargeError',
      'payload_too_large',
      `payload and state are ${bytes} bytes; the limit is ${limit}`,
    );
  }
}

/**
 * An argument the store cannot act on: a malformed cursor, log entries out of order, more jobs
 * than one transaction holds. The caller sent it, so it is theirs to fix (a 4xx, not a fault).
 */
export class InvalidArgumentError extends JobError {
  constructor(
    /** The argument at fault, as the store's signature names it. */
    readonly argument: string,
    message: string,
  ) {
    super('InvalidArgumentError', 'invalid_argument', message);
  }
}

/** DynamoDB refused for capacity or was briefly unavailable; the caller should retry later. */
export class StoreBusyError extends JobError {
  constructor(
    readonly retryAfterSeconds: number,
    options?: ErrorOptions,
  ) {
    super('StoreBusyError', 'store_busy', 'the job store is busy; retry later', options);
  }
}

/** No schedule has this name. */
export class ScheduleNotFoundError extends JobError {
  constructor(readonly scheduleName: string) {
    super('ScheduleNotFoundError', 'schedule_not_found', `schedule \`${scheduleName}\` not found.`);
  }
}

/** A schedule with this name already exists. */
export class ScheduleExistsError extends JobError {
  constructor(readonly scheduleName: string) {
    super('ScheduleExistsError', 'schedule_exists', `schedule \`${scheduleName}\` already exists.`);
  }
}

/**
 * The schedule is not of the kind the route may act on: a managed schedule (its job runs a
 * command) redefined, resumed or triggered on a route for pull jobs, or a pull schedule on a
 * managed route.
 */
export class ScheduleKindError extends JobError {
  constructor(
    readonly scheduleName: string,
    /** The schedule's own kind. */
    readonly kind: 'pull' | 'managed',
    readonly action: string,
  ) {
    super(
      'ScheduleKindError',
      kind === 'managed' ? 'use_managed_route' : 'wrong_schedule_kind',
      kind === 'managed'
        ? `schedule \`${scheduleName}\` runs a command: ${action} it at /v1/managed/schedules/…, ` +
            'which needs the permission to run commands'
        : `schedule \`${scheduleName}\` enqueues pull jobs: ${action} it at /v1/schedules/…`,
    );
  }
}
