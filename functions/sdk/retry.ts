/**
 * How the client waits before sending a request again: full-jitter exponential backoff, or what a
 * server's `Retry-After` asks for.
 */
import { retryDelayMs } from '../core/backoff.ts';

const BASE_DELAY_MS = 200;
const MAX_DELAY_MS = 5_000;
/** A server asking for a longer pause than this is waited for only this long per attempt. */
const MAX_RETRY_AFTER_MS = 30_000;

/** Full-jitter exponential backoff: a random wait up to 200 ms × 2^attempt, capped at 5 s. */
export const backoffMs = (attempt: number, baseMs = BASE_DELAY_MS, maxMs = MAX_DELAY_MS): number =>
  retryDelayMs(attempt, { baseMs, maxMs });

/**
 * The wait a `Retry-After` header asks for (seconds, or an HTTP date), plus up to 10% jitter so
 * clients told the same pause do not return together.
 * https://www.rfc-editor.org/rfc/rfc9110#field.retry-after
 */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = /^\s*\d+\s*$/.test(value) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  if (Number.isNaN(seconds)) return undefined;
  const wait = Math.min(MAX_RETRY_AFTER_MS, Math.max(0, seconds));
  return wait + Math.random() * wait * 0.1;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
