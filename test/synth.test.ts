/**
 * The real CDK app, synthesized the way a user deploys it: `npm run synth` runs `cdk synth` with
 * no AWS credentials, bundles every handler with the local esbuild and runs cdk-nag's
 * AwsSolutions checks. This is the slow, whole-app check; test/lib-*.test.ts assert each promise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../bin/app.ts';
import { FORBIDDEN_PACKAGES, type FunctionBundle, functionBundles } from '../scripts/bundles.ts';
import { appWithoutBundling, CDK_CONTEXT } from './support/template.ts';

/** The environment of a machine with no AWS configuration at all. */
function withoutAws(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('CDK_')) env[name] = value;
  }
  return { ...env, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', CI: 'true' };
}

describe('npm run synth', () => {
  let dir: string;
  let run: ReturnType<typeof spawnSync>;
  let bundles: FunctionBundle[];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-synth-'));
    run = spawnSync('npx', ['--no-install', 'tsx', 'scripts/synth.ts', join(dir, 'out')], {
      env: withoutAws(dir),
      encoding: 'utf8',
      timeout: 240_000,
    });
    bundles = run.status === 0 ? functionBundles(join(dir, 'out'), 'RelayStack') : [];
  }, 250_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('synthesizes without AWS credentials and passes cdk-nag', () => {
    expect(run.stderr).not.toMatch(/AwsSolutions-/);
    expect(run.status, String(run.stderr)).toBe(0);
  });

  it('bundles every handler into one ESM file', () => {
    expect(bundles.map((b) => b.path.split('/').slice(2).join('/')).sort()).toEqual([
      'Dispatcher/Function',
      'Fallback',
      'JobRoutes',
      'Maintenance/Function',
      'RelayRoutes',
      'TaskEvents',
    ]);
    for (const bundle of bundles) expect(bundle.packages['(relay)']).toBeGreaterThan(0);
  });

  it('keeps infrastructure and development packages out of every bundle', () => {
    for (const bundle of bundles) {
      expect(Object.keys(bundle.packages).filter((name) => FORBIDDEN_PACKAGES.includes(name))).toEqual([]);
      // The SDK comes from the Lambda runtime: bundling it would triple the size.
      expect(Object.keys(bundle.packages).filter((name) => name.startsWith('@aws-sdk/'))).toEqual([]);
    }
  });

  it('keeps every bundle under 1 MiB', () => {
    for (const bundle of bundles) expect(bundle.bytes).toBeLessThan(1024 * 1024);
  });

  it('prints each bundle’s size', () => {
    for (const bundle of bundles) expect(run.stdout).toContain(bundle.path);
    expect(run.stdout).toMatch(/\d+ KiB/);
  });

  it('gives the runner image only the lockfile and the function sources as build context', () => {
    const assets = JSON.parse(readFileSync(join(dir, 'out', 'RelayStack.assets.json'), 'utf8'));
    const images = Object.values(assets.dockerImages) as {
      source: { directory: string; dockerFile: string };
    }[];
    expect(images).toHaveLength(1);
    expect(images[0]?.source.dockerFile).toBe('functions/runner/Dockerfile');
    const context = readdirSync(join(dir, 'out', images[0]?.source.directory ?? '')).sort();
    expect(context).toEqual(['.dockerignore', 'functions', 'package-lock.json', 'package.json']);
  });
});

describe('the CDK app', () => {
  it('builds an environment-agnostic RelayStack', () => {
    const app = createApp(appWithoutBundling());
    const stack = app.node.findChild('RelayStack') as Stack;
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
  });

  it('takes the stack name and alarm email from context', () => {
    const app = createApp(
      new App({
        context: {
          ...CDK_CONTEXT,
          'aws:cdk:bundling-stacks': [],
          stackName: 'Jobs',
          alarmEmail: 'ops@example.com',
        },
      }),
    );
    const stack = app.node.findChild('Jobs') as Stack;
    const template = app.synth().getStackByName(stack.stackName).template;
    const subscriptions = Object.values(template.Resources).filter(
      (r) => (r as { Type: string }).Type === 'AWS::SNS::Subscription',
    );
    expect(subscriptions).toEqual([
      expect.objectContaining({ Properties: expect.objectContaining({ Endpoint: 'ops@example.com' }) }),
    ]);
  });

  it('fails synthesis when cdk-nag finds an unacknowledged violation', () => {
    const app = createApp(appWithoutBundling());
    // A queue without a DLQ, encryption or TLS enforcement breaks several AwsSolutions rules.
    new Queue(new Stack(app, 'Careless'), 'Plain');
    expect(() => app.synth()).toThrow(/[Vv]alidation/);
  });
});
