/**
 * A typed client for Relay's HTTP API.
 *
 * Producer and operator calls use the native API (JSON in, JSON out, `{"error":{…}}` envelopes) and
 * return its JSON bodies unchanged; worker calls use relay's v2 routes, where every change to a run
 * is fenced by its run id. The client imports nothing from the server but the backoff it shares
 * (functions/core/backoff.ts, which imports nothing), so it can ship on its own.
 *
 * Pointed at a deployed Relay (API Gateway with IAM auth), it signs every request with SigV4. The
 * signing modules are loaded only then, so a client of a local Relay stays light.
 */

import type { SignatureV4 } from '@smithy/signature-v4';
import { apiError, LeaseLostError, RelayApiError, RelayConnectionError } from './errors.ts';
import {
  filterFields,
  isManagedJob,
  jobPath,
  MANAGED,
  managedTwin,
  runPath,
  schedulePath,
  segment,
  startsCommands,
} from './paths.ts';
import { backoffMs, retryAfterMs, sleep } from './retry.ts';
import { loadSigner, type SigV4Options, signableQuery, signedHeaders, signingRegion } from './sigv4.ts';
import type {
  BulkAction,
  BulkResult,
  ClaimedJob,
  Job,
  JobFilter,
  JobInput,
  JobPage,
  LogPage,
  QueueLimitsChange,
  QueueLimitsView,
  QueueState,
  QueueStats,
  QueueSummary,
  Run,
  Schedule,
  ScheduleInput,
} from './types.ts';

export * from './errors.ts';
export { backoffMs } from './retry.ts';
export * from './sigv4.ts';
export * from './types.ts';

// ---------------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------------

export interface RelayClientOptions {
  /** @default process.env.RELAY_URL ?? 'http://127.0.0.1:4000' */
  readonly endpoint?: string;
  /**
   * Sent as `Authorization: Bearer <token>`, except on signed requests: SigV4 owns that header.
   * @default process.env.RELAY_TOKEN
   */
  readonly token?: string;
  /**
   * Sign requests with SigV4 for `execute-api`, using the default AWS credential chain (env vars,
   * SSO, shared files, container and instance roles). `false` never signs; `{ region }` always
   * signs, for an API behind a custom domain (or a test server).
   * @default sign when the endpoint is `<id>.execute-api.<region>.amazonaws.com` or
   * `RELAY_AWS_REGION` is set; see `signingRegion`
   */
  readonly sigv4?: SigV4Options | false;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Retries of a request answered 429/503 (or, for reads, failed in the network). @default 3 */
  readonly retries?: number;
}

interface RequestOptions {
  readonly query?: Record<string, string | number | undefined>;
  readonly body?: unknown;
  /** Headers beyond those every request carries. */
  readonly headers?: Record<string, string>;
  /**
   * Whether a request that failed in the network may be sent again. Only for reads that change
   * nothing: the first attempt may have reached the server.
   */
  readonly idempotent?: boolean;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
}

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:4000';

export class RelayClient {
  readonly endpoint: string;
  /** The region requests are signed for with SigV4; undefined when they are sent unsigned. */
  readonly region: string | undefined;
  private readonly token: string | undefined;
  private readonly fetchFn: typeof fetch;
  private readonly retries: number;
  /** Made on the first signed request; its credential provider caches and refreshes credentials. */
  private signer: Promise<SignatureV4> | undefined;

  constructor(options: RelayClientOptions = {}) {
    const endpoint = options.endpoint ?? process.env.RELAY_URL ?? DEFAULT_ENDPOINT;
    this.endpoint = endpoint.replace(/\/+$/, '');
    this.region = signingRegion(this.endpoint, options.sigv4);
    this.token = options.token ?? process.env.RELAY_TOKEN;
    this.fetchFn = options.fetch ?? globalThis.fetch;
    this.retries = options.retries ?? 3;
  }

  // ---- producers and operators (native API) -------------------------------------------------

  /** Enqueues a job; resolves to it as stored. */
  async submit(job: JobInput): Promise<Job> {
    // Starting a command is a permission of its own, with its own route.
    const path = startsCommands(job) ? `${MANAGED}/jobs` : '/v1/jobs';
    return (await this.call('POST', path, { body: job })).body as Job;
  }

  /** A job in any status, until its retention ends. */
  async status(queue: string, id: string): Promise<Job> {
    return (await this.call('GET', `${jobPath(queue, id)}/status`, { idempotent: true })).body as Job;
  }

  /** Jobs, newest first, optionally of one queue and selected by `filter`'s fields. */
  async list(
    options: JobFilter & { queue?: string; limit?: number; cursor?: string } = {},
  ): Promise<JobPage> {
    // Named one by one: the API answers 400 to a parameter it does not know.
    const query = {
      queue: options.queue,
      ...filterFields(options),
      limit: options.limit,
      cursor: options.cursor,
    };
    return (await this.call('GET', '/v1/jobs', { query, idempotent: true })).body as JobPage;
  }

  /**
   * Retries, cancels or deletes one page (at most `limit`, ≤ 1,000) of `queue`'s jobs that `filter`
   * selects; with `dryRun`, only counts them. Repeat with `next_cursor` while `more`. A retry that
   * met managed jobs retries them on the managed route, over the same page.
   */
  async bulk(
    queue: string,
    action: BulkAction,
    options: { filter?: JobFilter; dryRun?: boolean; limit?: number; cursor?: string } = {},
  ): Promise<BulkResult> {
    const path = `/v1/queues/${segment(queue)}/jobs/bulk`;
    const body = {
      action,
      filter: filterFields(options.filter ?? {}),
      dry_run: options.dryRun,
      limit: options.limit,
      cursor: options.cursor,
    };
    const pull = (await this.call('POST', path, { body })).body as BulkResult & { skipped_managed: number };
    const { skipped_managed, ...result } = pull;
    if (!skipped_managed) return result;
    const managed = (await this.call('POST', managedTwin(path), { body })).body as BulkResult;
    // The pull route's cursor: the managed page may reach further, and repeating a read skips nothing.
    return {
      ...result,
      matched: result.matched + managed.matched,
      changed: result.changed + managed.changed,
      skipped_changed: result.skipped_changed + managed.skipped_changed,
      sample_ids: [...result.sample_ids, ...managed.sample_ids].slice(0, 20),
    };
  }

  /** A managed job's log entries: every run's, or with `runId` one run's. */
  async logs(
    queue: string,
    id: string,
    options: { runId?: string; after?: string; limit?: number } = {},
  ): Promise<LogPage> {
    const query = { run_id: options.runId, after: options.after, limit: options.limit };
    return (await this.call('GET', `${jobPath(queue, id)}/logs`, { query, idempotent: true }))
      .body as LogPage;
  }

  /** Every run of a job still within retention, oldest first: how each ended, and who ran it. */
  async runs(queue: string, id: string): Promise<Run[]> {
    const answer = await this.call('GET', `${jobPath(queue, id)}/runs`, { idempotent: true });
    return (answer.body as { runs: Run[] }).runs;
  }

  /**
   * Fails a running job: it waits for its backoff and runs again while retries remain (and `retry`
   * is not false), and is dead otherwise. With `runId`, only that run may be failed.
   */
  async fail(
    queue: string,
    id: string,
    options: { error: string; runId?: string; retry?: boolean },
  ): Promise<Job> {
    const body = { error: options.error, run_id: options.runId, retry: options.retry };
    return (await this.call('POST', `${jobPath(queue, id)}/fail`, { body })).body as Job;
  }

  /** Cancels a pending, failed or running job. */
  async cancel(queue: string, id: string): Promise<Job> {
    return (await this.call('POST', `${jobPath(queue, id)}/cancel`)).body as Job;
  }

  /**
   * Runs a dead, cancelled or failed job again now, with a fresh retry budget. A managed job is
   * retried on the managed route, which needs the permission to run commands.
   */
  async retry(queue: string, id: string): Promise<Job> {
    return this.pullOrManaged(`${jobPath(queue, id)}/retry`);
  }

  /** The queue's dead jobs. */
  async dlqList(queue: string, options: { limit?: number; cursor?: string } = {}): Promise<JobPage> {
    const path = `/v1/queues/${segment(queue)}/dlq`;
    return (await this.call('GET', path, { query: options, idempotent: true })).body as JobPage;
  }

  /** Puts one dead job back in its queue with a fresh retry budget (a managed one on the managed route). */
  async dlqRequeue(queue: string, id: string): Promise<Job> {
    return this.pullOrManaged(`/v1/queues/${segment(queue)}/dlq/${segment(id)}/requeue`);
  }

  /**
   * Requeues up to `limit` dead jobs (all when omitted): pull jobs first, then, if some were
   * managed, those on the managed route.
   */
  async dlqRequeueAll(queue: string, options: { limit?: number } = {}): Promise<{ requeued: number }> {
    const path = `/v1/queues/${segment(queue)}/dlq/requeue`;
    const pull = (await this.call('POST', path, { body: options })).body as {
      requeued: number;
      skipped_managed: number;
    };
    const left = options.limit === undefined ? undefined : options.limit - pull.requeued;
    if (!pull.skipped_managed || left === 0) return { requeued: pull.requeued };
    const managed = (await this.call('POST', managedTwin(path), { body: { limit: left } })).body as {
      requeued: number;
    };
    return { requeued: pull.requeued + managed.requeued };
  }

  /** Deletes a dead job for good. */
  async dlqDelete(queue: string, id: string): Promise<void> {
    await this.call('DELETE', `/v1/queues/${segment(queue)}/dlq/${segment(id)}`);
  }

  async stats(queue: string): Promise<QueueStats> {
    const path = `/v1/queues/${segment(queue)}/stats`;
    return (await this.call('GET', path, { idempotent: true })).body as QueueStats;
  }

  async queues(): Promise<{ queues: QueueSummary[] }> {
    return (await this.call('GET', '/v1/queues', { idempotent: true })).body as { queues: QueueSummary[] };
  }

  // ---- cron schedules -------------------------------------------------------------------------

  /** Creates a schedule; one whose job runs a command on the managed route. */
  async createSchedule(name: string, schedule: ScheduleInput): Promise<Schedule> {
    const path = startsCommands(schedule.job) ? `${MANAGED}/schedules` : '/v1/schedules';
    return (await this.call('POST', path, { body: { name, ...schedule } })).body as Schedule;
  }

  /** Creates or redefines a schedule; one whose job runs a command on the managed route. */
  async putSchedule(name: string, schedule: ScheduleInput): Promise<Schedule> {
    const path = startsCommands(schedule.job) ? managedTwin(schedulePath(name)) : schedulePath(name);
    return (await this.call('PUT', path, { body: schedule })).body as Schedule;
  }

  /** Every schedule, by name. */
  async schedules(): Promise<{ schedules: Schedule[] }> {
    return (await this.call('GET', '/v1/schedules', { idempotent: true })).body as { schedules: Schedule[] };
  }

  async schedule(name: string): Promise<Schedule> {
    return (await this.call('GET', schedulePath(name), { idempotent: true })).body as Schedule;
  }

  /** Deletes a schedule; the jobs it enqueued stay. */
  async deleteSchedule(name: string): Promise<void> {
    await this.call('DELETE', schedulePath(name));
  }

  async pauseSchedule(name: string): Promise<Schedule> {
    return (await this.call('POST', `${schedulePath(name)}/pause`)).body as Schedule;
  }

  /** Resumes a paused schedule from its next fire time (a managed one on the managed route). */
  async resumeSchedule(name: string): Promise<Schedule> {
    return this.pullOrManaged<Schedule>(`${schedulePath(name)}/resume`);
  }

  /** Enqueues a schedule's job now (a managed one on the managed route); resolves to the job. */
  async triggerSchedule(name: string): Promise<Job> {
    return this.pullOrManaged<Job>(`${schedulePath(name)}/trigger`);
  }

  /** Pauses a queue: it takes jobs and hands none out until resumed. Pausing twice is harmless. */
  async pause(queue: string): Promise<QueueState> {
    return (await this.call('POST', `/v1/queues/${segment(queue)}/pause`, { idempotent: true }))
      .body as QueueState;
  }

  /** Resumes a paused queue. Resuming a running queue is harmless. */
  async resume(queue: string): Promise<QueueState> {
    return (await this.call('POST', `/v1/queues/${segment(queue)}/resume`, { idempotent: true }))
      .body as QueueState;
  }

  /** Sets a queue's priority aging: seconds of waiting worth one level, or `null` for strict order. */
  async setQueueSettings(
    queue: string,
    settings: { aging_seconds_per_level: number | null },
  ): Promise<QueueState> {
    const path = `/v1/queues/${segment(queue)}/settings`;
    return (await this.call('PUT', path, { body: settings, idempotent: true })).body as QueueState;
  }

  /** A queue's rate limit (`null` fields: none). */
  async limits(queue: string): Promise<QueueLimitsView> {
    return (await this.call('GET', `/v1/queues/${segment(queue)}/limits`, { idempotent: true }))
      .body as QueueLimitsView;
  }

  /**
   * Sets or clears a queue's rate limit, enforced across every worker and dispatcher: a claim over
   * it answers as an empty queue. A field left out is kept; `null` clears it.
   */
  async setLimits(queue: string, limits: QueueLimitsChange): Promise<QueueLimitsView> {
    const path = `/v1/queues/${segment(queue)}/limits`;
    return (await this.call('PUT', path, { body: limits, idempotent: true })).body as QueueLimitsView;
  }

  /** Resolves when Relay answers its health check. */
  async health(): Promise<void> {
    await this.call('GET', '/health', { idempotent: true });
  }

  // ---- workers (relay v2, fenced by run id) ----------------------------------------------------

  /**
   * Claims up to `numJobs` (1–100) jobs, each now running under a fresh run id; `[]` when none is
   * due. Not repeated after a network failure: a claim is not idempotent, and a claim lost in
   * flight returns to the queue when its lease expires. `worker` names the claimer in each run's
   * history (sent as `X-Relay-Worker`). With `waitSeconds` (at most 20), a long poll: Relay answers
   * as soon as a job is claimable, or with `[]` after that long.
   */
  async claim(
    queue: string,
    numJobs = 1,
    options: { worker?: string; waitSeconds?: number } = {},
  ): Promise<ClaimedJob[]> {
    const answer = await this.call('GET', `/v2/queues/${segment(queue)}/jobs`, {
      query: { num_jobs: numJobs, wait: options.waitSeconds },
      headers: options.worker === undefined ? undefined : { 'x-relay-worker': options.worker },
    });
    return answer.status === 204 ? [] : (answer.body as ClaimedJob[]);
  }

  /**
   * Extends the run's lease by the job's timeout and stores `state`. As in relay, the state is
   * replaced: omitting it clears the stored state. Throws `LeaseLostError` when the run is no
   * longer current, after which the job must not be completed.
   */
  async heartbeat(queue: string, id: string, runId: string, state?: unknown): Promise<void> {
    try {
      await this.call('PATCH', runPath(queue, id, runId), { body: state });
    } catch (error) {
      if (error instanceof RelayApiError && error.status === 404) {
        throw new LeaseLostError(queue, id, runId, error.message);
      }
      throw error;
    }
  }

  /** Completes the run. Completing a run that already ended changes nothing and is not an error. */
  async complete(queue: string, id: string, runId: string): Promise<void> {
    await this.call('DELETE', runPath(queue, id, runId));
  }

  // ---- transport ------------------------------------------------------------------------------

  /** POSTs to a route for pull jobs, or to its managed twin when the job turns out to be managed. */
  private async pullOrManaged<T = Job>(path: string): Promise<T> {
    try {
      return (await this.call('POST', path)).body as T;
    } catch (error) {
      if (!isManagedJob(error)) throw error;
      return (await this.call('POST', managedTwin(path))).body as T;
    }
  }

  /** Sends a request, retrying busy answers (and network failures of idempotent reads). */
  private async call(method: string, path: string, options: RequestOptions = {}): Promise<Answer> {
    const url = new URL(`${this.endpoint}${path}`);
    const query: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) query[name] = String(value);
    }
    // Not URLSearchParams: it writes a space as `+`, which SigV4's canonical query reads as a
    // literal plus. Encoded as SigV4 encodes, the query sent is the query signed.
    url.search = signableQuery(query);
    const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);

    for (let attempt = 0; ; attempt++) {
      const retriesLeft = attempt < this.retries;
      // Inside the loop: a signature carries its time, so every attempt is signed afresh.
      const init: RequestInit = {
        method,
        headers: await this.authorize(method, url, query, headers, body),
        body,
      };
      let response: Response;
      try {
        response = await this.fetchFn(url, init);
      } catch (error) {
        if (retriesLeft && options.idempotent) {
          await sleep(backoffMs(attempt));
          continue;
        }
        throw new RelayConnectionError(`cannot reach Relay at ${this.endpoint}: ${networkReason(error)}`, {
          cause: error,
        });
      }
      if ((response.status === 429 || response.status === 503) && retriesLeft) {
        await response.body?.cancel();
        await sleep(retryAfterMs(response.headers.get('retry-after')) ?? backoffMs(attempt));
        continue;
      }
      const text = await response.text();
      if (!response.ok) throw apiError(response, text);
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    }
  }

  /**
   * The headers to send: SigV4-signed ones (method, path, query, every header here plus `host`, and
   * the body's hash in `x-amz-content-sha256`) when signing, else these plus the bearer token.
   */
  private async authorize(
    method: string,
    url: URL,
    query: Record<string, string>,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<Record<string, string>> {
    if (this.region === undefined) {
      return this.token ? { ...headers, authorization: `Bearer ${this.token}` } : headers;
    }
    this.signer ??= loadSigner(this.region, this.endpoint);
    return signedHeaders(await this.signer, { method, url, query, headers, body });
  }
}

/** The most specific reason fetch gives for a network failure (`ECONNREFUSED`, …). */
function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  return cause?.code ?? cause?.message ?? (error as Error)?.message ?? String(error);
}
