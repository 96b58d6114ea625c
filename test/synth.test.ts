/**
 * The real CDK app, synthesized the way a user deploys it, without and with managed jobs:
 * `npm run synth` runs `cdk synth` with no AWS credentials, bundles every handler with the local
 * esbuild and runs cdk-nag's AwsSolutions checks. This is the slow, whole-app check;
 * test/lib-*.test.ts assert each promise.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../bin/app.ts';
import type { RelayStack } from '../lib/relay-stack.ts';
import {
  FORBIDDEN_PACKAGES,
  type FunctionBundle,
  functionBundles,
  OWN_CODE_CEILING_BYTES,
  ownCodeBytes,
} from '../scripts/bundles.ts';
import { appWithoutBundling, CDK_CONTEXT } from './support/template.ts';

/** The environment of a machine with no AWS configuration at all. */
function withoutAws(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('AWS_') && !name.startsWith('CDK_')) env[name] = value;
  }
  return { ...env, HOME: home, AWS_EC2_METADATA_DISABLED: 'true', CI: 'true' };
}

/** What `npm run synth` builds without and with managed jobs, by the function paths under the stack. */
const SYNTHS = [
  {
    name: 'the default app (pull jobs only)',
    args: [] as string[],
    functions: ['Fallback', 'JobRoutes', 'Maintenance/Function', 'RelayRoutes'],
    images: 0,
  },
  {
    name: 'the app with -c managedJobs=true',
    args: ['-c', 'managedJobs=true'],
    functions: [
      'Dispatcher/Function',
      'Executor/Function',
      'Fallback',
      'JobRoutes',
      'Maintenance/Function',
      'ManagedRoutes',
      'RelayRoutes',
      'TaskEvents',
    ],
    images: 1,
  },
];

describe.each(SYNTHS)('npm run synth: $name', ({ args, functions, images }) => {
  let dir: string;
  let run: ReturnType<typeof spawnSync>;
  let bundles: FunctionBundle[];
  const bundle = (path: string) => bundles.find((b) => b.path.endsWith(`/${path}`));

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'relay-synth-'));
    run = spawnSync('npx', ['--no-install', 'tsx', 'scripts/synth.ts', join(dir, 'out'), ...args], {
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
    expect(bundles.map((b) => b.path.split('/').slice(2).join('/')).sort()).toEqual(functions);
    for (const b of bundles) expect(b.packages['(relay)']).toBeGreaterThan(0);
  });

  it('keeps infrastructure and development packages out of every bundle', () => {
    for (const b of bundles) {
      expect(Object.keys(b.packages).filter((name) => FORBIDDEN_PACKAGES.includes(name))).toEqual([]);
    }
  });

  it('puts the OpenAPI document beside the bundle of JobRoutes, which serves it, and nothing beside the others', () => {
    for (const b of bundles) {
      expect(b.extraFiles, b.path).toEqual(b.path.endsWith('/JobRoutes') ? ['openapi.json'] : []);
    }
    expect(bundle('JobRoutes')).toBeDefined();
  });

  // Logged stacks are decoded with it (functions/core/source-stack.ts), which needs no sources' text.
  it('ships a source map beside every bundle, without the sources’ text', () => {
    for (const b of bundles) {
      expect(b.sourceMap?.sources, b.path).toBeGreaterThan(0);
      expect(b.sourceMap?.withSourcesContent, b.path).toBe(false);
    }
  });

  it('keeps every bundle under 1 MiB, and Relay’s own code and zod in it under 200 KiB', () => {
    for (const b of bundles) {
      expect(b.bytes, b.path).toBeLessThan(1024 * 1024);
      expect(ownCodeBytes(b.outputPackages), b.path).toBeLessThanOrEqual(OWN_CODE_CEILING_BYTES);
    }
  });

  it('prints each bundle’s size', () => {
    for (const b of bundles) expect(run.stdout).toContain(b.path);
    expect(run.stdout).toMatch(/\d+ KiB/);
  });

  it('bundles the AWS SDK into every function but the executor, which has no credentials, with the environment as its only credential source', () => {
    for (const b of bundles) {
      // Nothing is left to the runtime's copy of the SDK: one file imports faster.
      expect(b.externals, b.path).toEqual([]);
      const sdk = Object.keys(b.packages).filter((name) => name.startsWith('@aws-sdk/'));
      if (b.path.endsWith('/Executor/Function')) expect(sdk).toEqual([]);
      else expect(sdk, b.path).toContain('@aws-sdk/client-dynamodb');
      // Credentials come from the environment Lambda sets; the rest of the default chain stays out.
      for (const provider of ['@aws-sdk/credential-provider-node', '@aws-sdk/credential-provider-ini']) {
        expect(sdk, b.path).not.toContain(provider);
      }
    }
    if (images) expect(bundle('Dispatcher/Function')?.packages).toHaveProperty(['@aws-sdk/client-lambda']);
  });

  it(`builds ${images} container image${images === 1 ? '' : 's'}, from the lockfile and the function sources only`, () => {
    const assets = JSON.parse(readFileSync(join(dir, 'out', 'RelayStack.assets.json'), 'utf8'));
    const found = Object.values(assets.dockerImages ?? {}) as {
      source: { directory: string; dockerFile: string };
    }[];
    expect(found).toHaveLength(images);
    for (const image of found) {
      expect(image.source.dockerFile).toBe('functions/runner/Dockerfile');
      const context = readdirSync(join(dir, 'out', image.source.directory)).sort();
      expect(context).toEqual(['.dockerignore', 'functions', 'package-lock.json', 'package.json']);
    }
  });
});

describe('the CDK app', () => {
  it('builds an environment-agnostic RelayStack', () => {
    const app = createApp(appWithoutBundling());
    const stack = app.node.findChild('RelayStack') as Stack;
    expect(stack.environment).toBe('aws://unknown-account/unknown-region');
  });

  it.each([
    [undefined, false],
    ['false', false],
    [false, false],
    ['true', true],
    [true, true],
  ])('reads managedJobs %j from context as %s', (value, on) => {
    const app = createApp(
      new App({
        context: {
          ...CDK_CONTEXT,
          'aws:cdk:bundling-stacks': [],
          ...(value === undefined ? {} : { managedJobs: value }),
        },
      }),
    );
    const stack = app.node.findChild('RelayStack') as RelayStack;
    expect(stack.relay.managedJobs).toBe(on);
  });

  it('rejects a managedJobs context value that is not true or false, naming the fix', () => {
    expect(() =>
      createApp(new App({ context: { ...CDK_CONTEXT, 'aws:cdk:bundling-stacks': [], managedJobs: 'yes' } })),
    ).toThrow('The context value managedJobs is "yes", but it is a yes/no setting: pass -c managedJobs=true');
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
