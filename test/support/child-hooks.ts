/**
 * What a child process of a test or benchmark installs in itself: the body of the preload that
 * preload.ts builds. Runner processes (dist/runner.mjs) and the reliability suite's workers are
 * programs of their own, whose clients this process cannot hook.
 */
import { appendFileSync } from 'node:fs';
import { addClientHook } from '../../functions/core/clients.ts';
import { callLogHook } from './call-log.ts';
import { errorFaults, type MessageFaults, messageFaults } from './faults.ts';

/** Hooks for a child process; each is off when absent. */
export interface ChildHooks {
  /** Share of DynamoDB and SQS calls that fail (`errorFaults`). */
  readonly errorRate?: number;
  /** Shares of SQS messages dropped, sent twice and delayed (`messageFaults`). */
  readonly messages?: MessageFaults;
  /** A file the process appends one JSON line per AWS call to (`callLogHook`). */
  readonly callLog?: string;
  /**
   * Milliseconds the process's `Date.now` is off the real time: one is picked at random per
   * process. Only `Date.now` moves: Relay's store stamps leases, heartbeats and backoffs with it,
   * and `performance.timeOrigin + performance.now()` stays the real time for the suite's records.
   */
  readonly clockSkewMs?: readonly number[];
  /**
   * A file the process appends one JSON line (`{ pid, emf, bytes }`) per log line it writes to,
   * instead of printing it, with EMF metrics and Relay's logs on as on Lambda (`countLogLines`).
   */
  readonly logLines?: string;
}

/** Installs `hooks` in this process. */
export function installChildHooks(hooks: ChildHooks): void {
  if (hooks.errorRate) addClientHook(errorFaults(hooks.errorRate));
  const { drop, duplicate, delay } = hooks.messages ?? {};
  if (drop || duplicate || delay) addClientHook(messageFaults({ drop, duplicate, delay }));
  if (hooks.callLog) addClientHook(callLogHook(hooks.callLog));
  if (hooks.logLines) countLogLines(hooks.logLines);
  const skews = hooks.clockSkewMs ?? [];
  if (skews.length) {
    const skew = skews[Math.floor(Math.random() * skews.length)] ?? 0;
    const realNow = Date.now.bind(Date);
    Date.now = () => realNow() + skew;
  }
}

/** One line of a `logLines` file. */
export interface LoggedLine {
  readonly pid: number;
  /** An EMF document rather than a log line. */
  readonly emf: boolean;
  /** Its UTF-8 bytes, without the newline. */
  readonly bytes: number;
}

/** Logs as on Lambda (EMF and every level), each JSON line counted to `file` instead of printed. */
function countLogLines(file: string): void {
  process.env.RELAY_METRICS = 'emf';
  delete process.env.RELAY_LOG_LEVEL;
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (chunk: unknown, ...rest: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString() : undefined;
      if (text === undefined || !text.startsWith('{')) return write(chunk, ...rest);
      for (const line of text.split('\n').filter(Boolean)) {
        const logged: LoggedLine = {
          pid: process.pid,
          emf: line.startsWith('{"_aws"'),
          bytes: Buffer.byteLength(line),
        };
        appendFileSync(file, `${JSON.stringify(logged)}\n`);
      }
      const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
}
