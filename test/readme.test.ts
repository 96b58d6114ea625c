import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { startTestApi, type TestApi } from './support/api.ts';
import { CLI, type CliResult, type DevProcess, startDev } from './support/cli.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The shell blocks of the README's curl walkthrough, in order. */
function curlWalkthrough(): string {
  const section = README.slice(README.indexOf('## Try it with curl'), README.indexOf('### Status codes'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

/** The shell blocks of the README's section on managed shell jobs. */
function managedJobsExamples(): string {
  const section = README.slice(README.indexOf('## Managed shell jobs'), README.indexOf('## The `relay` CLI'));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
}

describe('README', () => {
  it('has curl examples for every route in the route table, the managed ones with managed jobs', async () => {
    const { ROUTES } = await import('../functions/api/routes.ts');
    const script = curlWalkthrough();
    const managed = managedJobsExamples();
    // Seed routes are served both bare and under /v1; showing either form documents the pair.
    const SEED = /^(\/v1)?(\/(enqueue|enqueue\/batch|next|heartbeat|complete|reschedule))$/;
    const shown = (path: string) => new RegExp(`4000${path}(?![\\w/])`).test(script);
    const missing = ROUTES.filter((route) => {
      const prefix = route.path.split('{')[0] as string;
      const seed = SEED.exec(route.path);
      if (seed) return !shown(seed[2] as string) && !shown(`/v1${seed[2]}`);
      return !(route.group === 'managed' ? managed : script).includes(`4000${prefix}`);
    });
    expect(missing.map((r) => `${r.method} ${r.path}`)).toEqual([]);
  });

  it('runs its curl walkthrough as printed, every request succeeding', async () => {
    // `-f` makes curl fail on any 4xx/5xx; the commands are otherwise exactly as printed.
    const script = curlWalkthrough()
      .replaceAll('http://127.0.0.1:4000', api.url)
      .replaceAll('curl -s ', 'curl -sS -f ');
    const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', script]);
    expect(stdout).toContain('"status":"scheduled"');
    // relay-rs routes that answer without a body print their status code (curl -w).
    expect(stdout.match(/^20[024]$/gm)?.length).toBeGreaterThanOrEqual(10);
    expect(stdout.trim().endsWith('200')).toBe(true);
  });
});

/**
 * The commands of the README's CLI block, as a shell runs them: comment lines dropped, a line
 * ending in `\\` joined with the next, a here-document kept with its command.
 */
function cliCommands(): string[] {
  const section = README.slice(README.indexOf('## The `relay` CLI'), README.indexOf('## The TypeScript SDK'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const commands: string[] = [];
  let current: string[] = [];
  let heredoc: string | undefined;
  for (const line of block.split('\n')) {
    if (heredoc === undefined && current.length === 0 && (line.trim() === '' || line.startsWith('#')))
      continue;
    current.push(line);
    if (heredoc !== undefined) {
      if (line === heredoc) heredoc = undefined;
    } else {
      heredoc = /<<'(\w+)'/.exec(line)?.[1];
    }
    if (heredoc === undefined && !line.endsWith('\\')) {
      commands.push(current.join('\n'));
      current = [];
    }
  }
  return commands;
}

/** Runs one command as bash would, the `npx relay` in it being the built CLI. */
function runShell(command: string, cwd: string, endpoint: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const script = command.replaceAll('npx relay ', `node ${CLI} `);
    execFile(
      'bash',
      ['-o', 'pipefail', '-c', script],
      { cwd, env: { ...process.env, RELAY_URL: endpoint, RELAY_TOKEN: '' } },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const field = (output: string, name: string) => new RegExp(`^${name}\\s+(.*)$`, 'm').exec(output)?.[1];

/** What each command of the CLI block must do, by its first line, in the README's order. */
const CLI_BLOCK: readonly { readonly command: string; readonly code: number; check?(r: CliResult): void }[] =
  [
    { command: "cat > job.json <<'EOF'", code: 0 },
    {
      command:
        "npx relay submit job.json --wait       # its output as it runs, then its on_success job's; exit 0",
      code: 0,
      check: (r) => {
        expect(r.stdout).toMatch(/^hello from greet\ngreeted\n/);
        expect(r.stderr).toContain('a warning\n');
        expect(field(r.stdout, 'status')).toBe('completed');
        expect(r.stdout).toMatch(/^chained scripts\/greet~\S+~success: completed$/m);
      },
    },
    {
      command:
        'npx relay logs greet                   # a bare id names the job one queue has; a header per run on stderr',
      code: 0,
      check: (r) => {
        expect(r.stdout).toBe('hello from greet\n');
        expect(r.stderr).toMatch(/^--- attempt 1 · run [\w-]{36} · completed \(exit 0\)\na warning\n$/);
      },
    },
    {
      command: 'npx relay status scripts/greet         # also: npx relay status scripts greet',
      code: 0,
      check: (r) => expect(field(r.stdout, 'status')).toBe('completed'),
    },
    {
      command: 'npx relay list --queue scripts         # newest first: the chained job, then greet',
      code: 0,
      check: (r) => {
        const ids = r.stdout
          .trimEnd()
          .split('\n')
          .slice(1)
          .map((row) => row.split(/\s+/)[1]);
        expect(ids).toEqual([expect.stringMatching(/^greet~/), 'greet']);
      },
    },
    {
      command:
        'npx relay logs report-1                # a pull job: its worker runs it, so Relay has no output of it',
      code: 0,
      check: (r) => expect(r.stderr).toContain('default/report-1 is a pull job (pending)'),
    },
    {
      command: 'npx relay cancel report-1',
      code: 0,
      check: (r) => expect(field(r.stdout, 'status')).toBe('cancelled'),
    },
    {
      command:
        'npx relay retry report-1               # a cancelled, dead or failed job runs again, with fresh retries',
      code: 0,
      check: (r) => expect(field(r.stdout, 'status')).toBe('pending'),
    },
    {
      command: 'npx relay cancel emails welcome-42',
      code: 0,
      check: (r) => expect(field(r.stdout, 'status')).toBe('cancelled'),
    },
    {
      command: `echo '{"queue":"scripts","id":"broken","type":"SHELL","max_retries":0,"payload":{"command":"/bin/sh","args":["-c","echo giving up >&2; exit 3"]}}' \\`,
      code: 1,
      check: (r) => {
        expect(field(r.stdout, 'status')).toBe('dead');
        expect(r.stderr).toContain('giving up\n');
      },
    },
    {
      command: 'npx relay dlq list scripts',
      code: 0,
      check: (r) => expect(r.stdout).toMatch(/^scripts\s+broken\s+dead\s+/m),
    },
    {
      command: 'npx relay dlq requeue broken           # or: npx relay dlq requeue scripts --all [--limit N]',
      code: 0,
      check: (r) => expect(field(r.stdout, 'status')).toMatch(/^(pending|running|dead)$/),
    },
    {
      command: 'npx relay logs broken --follow         # both runs, until it is dead again; exit 1',
      code: 1,
      check: (r) => {
        // The first run is over; the second may still run when the command starts.
        const first = String.raw`--- attempt \d · run \S+ · (retried|ended: [^\n]*)\ngiving up\n`;
        const dead = String.raw`--- attempt \d · run \S+ · dead: exited with code 3\n`;
        const second = String.raw`(${dead}giving up\n|--- attempt \d · run \S+ · running\ngiving up\n${dead})`;
        expect(r.stderr).toMatch(new RegExp(`^${first}${second}$`));
      },
    },
    {
      command:
        'npx relay runs scripts/broken          # one row per run: attempt, outcome, when, exit code, worker, error',
      code: 0,
      check: (r) => {
        const rows = r.stdout.trimEnd().split('\n').slice(1);
        expect(rows).toEqual([
          expect.stringMatching(/^1\s+\S+\s+failed\s+.*\s3\s+-\s+exited with code 3$/),
          expect.stringMatching(/^2\s+\S+\s+failed\s+.*\s3\s+-\s+exited with code 3$/),
        ]);
      },
    },
    {
      command: 'npx relay dlq delete scripts/broken --yes',
      code: 0,
      check: (r) => expect(r.stdout).toBe('deleted broken from the dead-letter queue of scripts\n'),
    },
    {
      command: 'npx relay stats scripts',
      code: 0,
      check: (r) =>
        expect(r.stdout.trimEnd().split('\n')[1]?.split(/\s+/)).toEqual([
          'scripts',
          'running',
          'off',
          'off',
          'off',
          '0',
          '0',
          '0',
          '0',
          '0',
        ]),
    },
    {
      command: 'npx relay queues',
      code: 0,
      check: (r) => expect(r.stdout).toMatch(/^scripts\s+running\s+priority\s+/m),
    },
    {
      command: 'npx relay pause scripts                # takes jobs, hands none out; running jobs finish',
      code: 0,
      check: (r) => expect(r.stdout).toMatch(/^scripts paused \(since .+\), aging off$/m),
    },
    {
      command: 'npx relay resume scripts               # its waiting managed jobs are dispatched again',
      code: 0,
      check: (r) => expect(r.stdout).toBe('scripts running, aging off\n'),
    },
    {
      command:
        'npx relay aging scripts 60             # a waiting job gains a priority level a minute; `off`: strict order',
      code: 0,
      check: (r) => expect(r.stdout).toBe('scripts running, aging 60s/level\n'),
    },
    {
      command:
        'npx relay bulk retry --queue scripts --status dead --dry-run     # counts, names up to 20, changes nothing',
      code: 0,
      check: (r) =>
        expect(r.stdout).toMatch(/^(would retry \d+ job\(s\) in scripts: |no job in scripts matches)/),
    },
    {
      command: 'npx relay bulk cancel --queue newsletters --created-after 2020-01-01T00:00:00Z --yes',
      code: 0,
      check: (r) => expect(r.stdout).toBe('no job in newsletters matches\n'),
    },
    {
      command: 'npx relay bulk delete --queue default --status completed --error-contains timeout --yes',
      code: 0,
      check: (r) => expect(r.stdout).toBe('no job in default matches\n'),
    },
    {
      command:
        'npx relay limits scripts --rate 5 --burst 10 --max-running 4  # 5 runs start per second, 4 at once',
      code: 0,
      check: (r) => expect(r.stdout).toBe('scripts rate 5/s, burst 10, max running 4\n'),
    },
    {
      command: 'npx relay limits scripts --clear',
      code: 0,
      check: (r) => expect(r.stdout).toBe('scripts rate off, max running off\n'),
    },
  ];

describe('README: the relay CLI', () => {
  let dev: DevProcess;
  let cwd: string;
  beforeAll(async () => {
    [dev, cwd] = await Promise.all([
      startDev(['--port', String(await freePort())]),
      mkdtemp(path.join(tmpdir(), 'relay-readme-')),
    ]);
  });
  afterAll(async () => {
    dev.child.kill('SIGINT');
    await dev.exited;
    await rm(cwd, { recursive: true, force: true });
  });

  it('runs its CLI block as printed after the curl walkthrough, each command doing what it says', async () => {
    const walkthrough = curlWalkthrough().replaceAll('http://127.0.0.1:4000', dev.url);
    await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', walkthrough]);
    const commands = cliCommands();

    expect(commands.map((command) => command.split('\n')[0])).toEqual(CLI_BLOCK.map((step) => step.command));
    for (const [i, command] of commands.entries()) {
      const step = CLI_BLOCK[i];
      const result = await runShell(command, cwd, dev.url);
      expect({ command: step?.command, code: result.code, stderr: result.stderr }).toMatchObject({
        command: step?.command,
        code: step?.code,
      });
      step?.check?.(result);
    }
  });
});

describe('README: Deploy to AWS', () => {
  const section = README.slice(README.indexOf('## Deploy to AWS'), README.indexOf('## Configuration'));

  /** The outputs the README's table documents, and the text of each row. */
  function documentedOutputs(): Map<string, string> {
    const table = section.slice(section.indexOf('**Outputs**'), section.indexOf('**What gets deployed**'));
    return new Map(
      [...table.matchAll(/^\| ((?:`\w+`(?:, )?)+) \|(.*)$/gm)].flatMap((m) =>
        [...(m[1] as string).matchAll(/`(\w+)`/g)].map((n) => [n[1] as string, m[2] as string]),
      ),
    );
  }

  async function outputsOf(managedJobs: boolean): Promise<string[]> {
    const { Template } = await import('aws-cdk-lib/assertions');
    const { RelayStack } = await import('../lib/relay-stack.ts');
    const { appWithoutBundling } = await import('./support/template.ts');
    const stack = new RelayStack(appWithoutBundling(), 'S', { relay: { managedJobs } });
    return Object.keys(Template.fromStack(stack).toJSON().Outputs);
  }

  it('lists exactly the outputs RelayStack declares with managed jobs', async () => {
    expect([...documentedOutputs().keys()].sort()).toEqual((await outputsOf(true)).sort());
  });

  it('marks the outputs that exist only with managed jobs', async () => {
    const always = await outputsOf(false);
    const marked = [...documentedOutputs()]
      .filter(([, text]) => text.includes('with managed jobs only'))
      .map(([name]) => name);

    expect(marked.sort()).toEqual((await outputsOf(true)).filter((name) => !always.includes(name)).sort());
  });

  it('grants access in its examples only with grants the Relay construct has', async () => {
    const { Relay } = await import('../lib/relay.ts');
    const used = [...section.matchAll(/relay\.(?:api\.)?(grant\w+)\(/g)].map((m) => m[0]);

    expect(used).toContain('relay.grantSubmitJobs(');
    expect(used).toContain('relay.grantRunCommands(');
    expect(
      used.filter((call) => {
        const name = call.replace(/^relay\./, '').replace(/\($/, '');
        return !(name in Relay.prototype);
      }),
    ).toEqual([]);
  });

  it('tells how to deploy with managed jobs', () => {
    expect(section).toContain('npx cdk deploy -c managedJobs=true');
  });

  it('uses only props the Relay construct has in its example', async () => {
    const example = section.slice(section.indexOf("new Relay(this, 'Relay', {"), section.indexOf('});'));
    const props = [...example.matchAll(/^\s+(\w+):/gm), ...example.matchAll(/, (\w+):/g)].map((m) => m[1]);
    const source = readFileSync(new URL('../lib/relay-props.ts', import.meta.url), 'utf8');
    const declared = [...source.matchAll(/^\s+readonly (\w+)\?:/gm)].map((m) => m[1]);
    expect(props.length).toBeGreaterThan(5);
    expect(props.filter((p) => !declared.includes(p))).toEqual([]);
  });

  it('names only npm scripts that exist', () => {
    const scripts = Object.keys(
      JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts,
    );
    const used = [...README.matchAll(/npm run (\w+)/g)].map((m) => m[1]);
    expect(used.filter((name) => !scripts.includes(name as string))).toEqual([]);
  });
});
