/**
 * Which commands a queue may run: a deployment's allow-list (`RELAY_ALLOWED_COMMANDS`, the
 * `allowedCommands` prop of the `Relay` construct). Checked when a managed job is submitted, so a
 * refused command is a clear 403 at once, and again before a run starts, so a job stored before the
 * policy changed cannot run what the deployment no longer allows.
 */
import * as z from 'zod';

/** Queue name (or `*` for every queue without its own entry) → allowed commands. */
export type CommandAllowList = Readonly<Record<string, readonly string[]>>;

const allowList = z.record(
  z.string().min(1),
  z.array(
    z
      .string()
      .min(1)
      .refine((p) => !p.slice(0, -1).includes('*'), 'a pattern may hold `*` only at its end'),
  ),
);

export interface CommandPolicy {
  /** Why `command` may not run on `queue`, or `undefined` when it may. */
  refusal(queue: string, command: string): string | undefined;
}

/** Every command may run: no allow-list is configured. */
export const ANY_COMMAND: CommandPolicy = { refusal: () => undefined };

/**
 * The policy of an allow-list. A pattern is a command exactly as jobs give it (`/usr/bin/env` is
 * not `env`) or, ending in `*`, a prefix of it (`/opt/jobs/*`). A queue without an entry uses the
 * `*` entry; without that, it may run no command.
 */
export function commandPolicy(list: CommandAllowList): CommandPolicy {
  const matches = (pattern: string, command: string) =>
    pattern.endsWith('*') ? command.startsWith(pattern.slice(0, -1)) : command === pattern;
  return {
    refusal(queue, command) {
      const patterns = list[queue] ?? list['*'];
      if (patterns?.some((p) => matches(p, command))) return undefined;
      const allowed = patterns?.length
        ? `it may run ${patterns.map((p) => `\`${p}\``).join(', ')}`
        : 'it may run none';
      return `queue \`${queue}\` may not run \`${command}\` on this Relay: ${allowed}`;
    },
  };
}

/** The policy `RELAY_ALLOWED_COMMANDS` describes (any command when unset); throws naming what is wrong. */
export function policyFromEnv(value: string | undefined): CommandPolicy {
  if (value === undefined || value === '') return ANY_COMMAND;
  let raw: unknown;
  try {
    raw = JSON.parse(value);
  } catch {
    throw new Error(
      'RELAY_ALLOWED_COMMANDS must be JSON: {"<queue or *>": ["/path/to/command", "/prefix/*"]}',
    );
  }
  const parsed = allowList.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`RELAY_ALLOWED_COMMANDS is invalid: ${z.prettifyError(parsed.error)}`);
  }
  return commandPolicy(parsed.data);
}
