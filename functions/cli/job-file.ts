/**
 * Job files: reading one (a path, or `-` for stdin), and hints for the fields a rejected one
 * misspelt. The API, not the CLI, decides which fields it accepts; the hints only explain a refusal.
 */
import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { CHILD_JOB_FIELDS, JOB_INPUT_FIELDS } from '../sdk/client.ts';
import { UsageError } from './exit.ts';

/** A job file's JSON, from a path or `-` for stdin. A missing or malformed file is a usage error. */
export async function readJobFile(source: string): Promise<unknown> {
  const name = source === '-' ? 'stdin' : source;
  let content: string;
  try {
    content = source === '-' ? await text(process.stdin) : await readFile(source, 'utf8');
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException;
    if (code === 'ENOENT') throw new UsageError(`no job file ${source}`, { cause: error });
    throw new UsageError(`cannot read ${name}: ${message}`, { cause: error });
  }
  try {
    return JSON.parse(content);
  } catch (error) {
    throw new UsageError(`${name} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * `did you mean` hints for the unknown fields of a job file and of its `on_success` /
 * `on_failure` children: `retries → max_retries`.
 */
export function fieldHints(job: unknown, path = '', known: readonly string[] = JOB_INPUT_FIELDS): string[] {
  if (job === null || typeof job !== 'object' || Array.isArray(job)) return [];
  return Object.entries(job).flatMap(([field, value]) => {
    if (field === 'on_success' || field === 'on_failure') {
      return fieldHints(value, `${path}${field}.`, CHILD_JOB_FIELDS);
    }
    if (known.includes(field)) return [];
    const near = nearest(field, known);
    return near ? [`unknown field ${path}${field}: did you mean ${path}${near}?`] : [];
  });
}

/**
 * The known field a misspelt one most likely meant: one a few edits away, or one whose words
 * (split at `_`) hold it whole (`retries` for `max_retries`).
 */
function nearest(field: string, known: readonly string[]): string | undefined {
  const lower = field.toLowerCase();
  const scored = known
    .map((name) => ({ name, distance: editDistance(lower, name) }))
    .filter(
      ({ name, distance }) =>
        distance <= Math.max(1, Math.floor(name.length / 4)) || name.split('_').includes(lower),
    )
    .sort((a, b) => a.distance - b.distance);
  return scored[0]?.name;
}

/** Levenshtein distance: insertions, deletions and substitutions. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, substitution));
    }
    previous = row;
  }
  return previous[b.length] ?? 0;
}
