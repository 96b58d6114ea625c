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

describe('README', () => {
  it('has curl examples for every route in the route table', async () => {
    const { ROUTES } = await import('../functions/api/routes.ts');
    const script = curlWalkthrough();
    // Seed routes are served both bare and under /v1; showing either form documents the pair.
    const SEED = /^(\/v1)?(\/(enqueue|enqueue\/batch|next|heartbeat|complete|reschedule))$/;
    const shown = (path: string) => new RegExp(`4000${path}(?![\\w/])`).test(script);
    const missing = ROUTES.filter((route) => {
      const prefix = route.path.split('{')[0] as string;
      const seed = SEED.exec(route.path);
      if (seed) return !shown(seed[2] as string) && !shown(`/v1${seed[2]}`);
      return !script.includes(`4000${prefix}`);
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

  it('lists exactly the outputs RelayStack declares', async () => {
    const { Template } = await import('aws-cdk-lib/assertions');
    const { RelayStack } = await import('../lib/relay-stack.ts');
    const { appWithoutBundling } = await import('./support/template.ts');
    const outputs = Object.keys(
      Template.fromStack(new RelayStack(appWithoutBundling(), 'S')).toJSON().Outputs,
    );
    const table = section.slice(section.indexOf('**Outputs**'), section.indexOf('**What gets deployed**'));
    const documented = [...table.matchAll(/^\| ((?:`\w+`(?:, )?)+) \|/gm)].flatMap((m) =>
      [...(m[1] as string).matchAll(/`(\w+)`/g)].map((n) => n[1]),
    );
    expect(documented.sort()).toEqual(outputs.sort());
  });

  it('uses only props the Relay construct has in its example', async () => {
    const example = section.slice(section.indexOf("new Relay(this, 'Relay', {"), section.indexOf('});'));
    const props = [...example.matchAll(/^\s+(\w+):/gm), ...example.matchAll(/, (\w+):/g)].map((m) => m[1]);
    const source = readFileSync(new URL('../lib/relay.ts', import.meta.url), 'utf8');
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
