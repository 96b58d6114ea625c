import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from './support/api.ts';

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
    expect(stdout.trim().endsWith('200')).toBe(true);
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
