/**
 * CloudWatch Logs bytes per job: what the handlers write, captured as they write it, plus the lines
 * AWS writes around them (Lambda's system logs per invocation, at the level the functions are
 * deployed with; the API's access log line per request), rendered in their real formats.
 *
 * The bench runs the handlers in its own process with EMF on (`RELAY_METRICS=emf`, as on Lambda).
 * `tapHandlerLogs` takes every JSON line they write to stdout or stderr off the terminal; inside a
 * `capture` window it counts them, apart from the maintenance sweep's (once a minute on AWS, not per
 * job: told apart by its async stack, as the economy's call hook does).
 */
import { matchRoute } from '../functions/api/routes.ts';
import type { ACCESS_LOG_FIELDS } from '../lib/access-log.ts';
import { DEFAULT_PLATFORM_LOGS, type PlatformLogs } from '../lib/function-logging.ts';

/** Lines and bytes, as CloudWatch Logs bills them. */
export interface LogVolume {
  lines: number;
  /** UTF-8 bytes of the lines, without their newline. */
  bytes: number;
}

/** What a capture window counted, by kind of line. */
export interface CapturedLogs {
  /** EMF documents (`_aws`): metrics, written as log lines. */
  readonly emf: LogVolume;
  /** Relay's own structured log lines (functions/core/log.ts). */
  readonly app: LogVolume;
}

/**
 * CloudWatch Logs counts each event as its UTF-8 bytes plus 26 bytes of overhead (the PutLogEvents
 * batch size); ingestion is billed on that size.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
export const EVENT_OVERHEAD_BYTES = 26;

/** Billed bytes of a volume: its bytes and the per-event overhead. */
export const billedBytes = (v: LogVolume): number => v.bytes + v.lines * EVENT_OVERHEAD_BYTES;

const emptyCapture = (): CapturedLogs => ({ emf: { lines: 0, bytes: 0 }, app: { lines: 0, bytes: 0 } });

let active: CapturedLogs | undefined;

/**
 * Takes the handlers' JSON lines off stdout and stderr for the rest of the process, counting them
 * while a `capture` is open. Other output passes through; the returned function writes to stdout
 * past the tap (the bench's own lines, JSON or not).
 */
export function tapHandlerLogs(): (text: string) => void {
  const stdout = process.stdout.write.bind(process.stdout);
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : undefined;
      if (text === undefined || !text.startsWith('{')) return write(chunk, ...rest);
      if (active && !/\bmaintain\b/.test(stackOf())) count(active, text);
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  return (text) => stdout(text);
}

function stackOf(): string {
  const depth = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  try {
    return new Error().stack ?? '';
  } finally {
    Error.stackTraceLimit = depth;
  }
}

function count(into: CapturedLogs, text: string): void {
  for (const line of text.split('\n').filter(Boolean)) {
    const volume = line.startsWith('{"_aws"') ? into.emf : into.app;
    volume.lines++;
    volume.bytes += Buffer.byteLength(line);
  }
}

/**
 * Counts the handlers' lines until the returned `stop`, with Relay's logs on (`RELAY_LOG_LEVEL` is
 * read at each line). Windows do not nest.
 */
export function capture(): { stop: () => CapturedLogs } {
  const level = process.env.RELAY_LOG_LEVEL;
  delete process.env.RELAY_LOG_LEVEL;
  const logs = emptyCapture();
  active = logs;
  return {
    stop: () => {
      active = undefined;
      if (level !== undefined) process.env.RELAY_LOG_LEVEL = level;
      return logs;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Lines AWS writes
// ---------------------------------------------------------------------------------------------

const REQUEST_ID = '8f5a2b1c-4d3e-4f60-9a7b-0123456789ab';

/**
 * Lambda's system log events of one warm invocation at the level `platformLogs` keeps them
 * (lib/function-logging.ts; Relay's default unless told otherwise), in the JSON log format the
 * functions use. At `'warn'` a successful invocation writes none; at `'info'`, its
 * `platform.start`, `platform.runtimeDone` and `platform.report` (START, END and REPORT in the
 * text format), rendered in the shape the telemetry schema gives them. A cold start would add its
 * init events; invocations are mostly warm, so they are left out.
 * https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-logformat.html
 * https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html
 */
export function platformLines(
  memoryMb: number,
  platformLogs: PlatformLogs = DEFAULT_PLATFORM_LOGS,
): LogVolume {
  if (platformLogs === 'warn') return { lines: 0, bytes: 0 };
  const time = '2026-01-01T12:00:00.000Z';
  const events = [
    { time, type: 'platform.start', record: { requestId: REQUEST_ID, version: '$LATEST' } },
    {
      time,
      type: 'platform.runtimeDone',
      record: {
        requestId: REQUEST_ID,
        status: 'success',
        spans: [
          { name: 'responseLatency', start: time, durationMs: 11.912 },
          { name: 'responseDuration', start: time, durationMs: 0.135 },
        ],
        metrics: { durationMs: 12.214, producedBytes: 320 },
      },
    },
    {
      time,
      type: 'platform.report',
      record: {
        requestId: REQUEST_ID,
        metrics: { durationMs: 12.34, billedDurationMs: 13, memorySizeMB: memoryMb, maxMemoryUsedMB: 98 },
        status: 'success',
      },
    },
  ].map((event) => JSON.stringify(event));
  return { lines: events.length, bytes: events.reduce((sum, l) => sum + Buffer.byteLength(l), 0) };
}

/** A request as the access log sees it. */
export interface ApiRequest {
  readonly method: string;
  /** The path without its query string. */
  readonly path: string;
  readonly status: number;
}

/**
 * The access log line `RelayApi` writes for `request`: its fields (lib/access-log.ts) with the
 * request's route and status, and values of typical length for the rest (an IAM role session as
 * the caller).
 */
export function accessLogLine(request: ApiRequest): string {
  const match = matchRoute(request.method, request.path);
  const routeKey = match && 'route' in match ? `${request.method} ${match.route.path}` : '$default';
  const values: Record<keyof typeof ACCESS_LOG_FIELDS, string> = {
    requestId: 'Yx1Z2abcIAMEVfA=',
    time: String(Date.now()),
    routeKey,
    status: String(request.status),
    latencyMs: '14',
    integrationError: '-',
    caller: 'AROA3XFRBF535PLBIFPI4:worker-7',
    sourceIp: '203.0.113.10',
  };
  return JSON.stringify(values);
}

/** The access log of `requests`. */
export function accessLogs(requests: readonly ApiRequest[]): LogVolume {
  return {
    lines: requests.length,
    bytes: requests.reduce((sum, r) => sum + Buffer.byteLength(accessLogLine(r)), 0),
  };
}
