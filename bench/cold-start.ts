/**
 * A cold-start proxy for each Lambda entry: its bundle as CDK builds it, the time a fresh Node.js
 * process takes to import it, and the time its first request takes (clients built, first
 * connections opened), against the local stack's DynamoDB and SQS.
 *
 * It is a proxy: Lambda's INIT also starts the runtime and fetches the code, and its CPU share
 * depends on the memory size. The bundles are built as `RelayFunction` (lib/relay-function.ts)
 * builds them: ESM, minified, source maps (without the sources, and not loaded at start), the
 * `createRequire` banner, the AWS SDK bundled; and
 * once more with `@aws-sdk/*` left to the runtime (CDK's default), the figures that chose it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { dynamoClient, LOCAL_CREDENTIALS, LOCAL_REGION } from '../functions/core/clients.ts';
import { Env } from '../functions/core/env.ts';
import { ensureTable } from '../functions/jobs/table.ts';
import { LAMBDA_ALIASES } from '../lib/lambda-bundling.ts';
import { outputBytesByPackage, ownCodeBytes } from '../scripts/bundles.ts';
import type { Bench, BenchContext } from './section.ts';
import { percentiles, round, table } from './stats.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The table the handlers use here: empty, so a sweep or a listing costs the same on every run. */
const TABLE = 'relay-cold-start';

/** Node 20 runs the bench; Lambda's runtime is Node 24 (`target: 'node24'` in RelayFunction). */
const TARGET = `node${process.versions.node.split('.')[0]}`;

/** Imports the bundle, handles one event, and prints both times (first line starting with `COLD `). */
const HARNESS = `import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
// Lambda's Node.js runtime provides this global for response streaming: here the streamed text is the result.
globalThis.awslambda = {
  streamifyResponse: (handler) => async (event, context) => {
    let text = '';
    const stream = new Writable({ write(chunk, _encoding, done) { text += chunk; done(); } });
    await handler(event, stream, context);
    return { streamed: text };
  },
};
const [bundle, event] = process.argv.slice(2);
const t0 = performance.now();
const { handler } = await import(pathToFileURL(bundle).href);
const t1 = performance.now();
const context = { awsRequestId: 'cold-start', functionName: 'cold-start', getRemainingTimeInMillis: () => 30000 };
const result = await handler(JSON.parse(event), context);
const t2 = performance.now();
process.stdout.write('\\nCOLD ' + JSON.stringify({ importMs: t1 - t0, firstMs: t2 - t1, result }) + '\\n');
process.exit(0);
`;

function apiEvent(method: string, path: string, routeKey: string) {
  return {
    version: '2.0',
    routeKey,
    rawPath: path,
    rawQueryString: '',
    headers: { accept: 'application/json', host: 'cold-start.local' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'cold-start',
      domainName: 'cold-start.local',
      domainPrefix: 'cold-start',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: 'cold-start',
      routeKey,
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
}

const GHOST = { queue: 'cold-start', id: 'missing', runId: '00000000-0000-4000-8000-000000000000' };

/** Each Lambda entry and the one request it handles: cheap, but through its real dependencies. */
const ENTRIES: readonly { name: string; request: string; event: unknown }[] = [
  { name: 'relay', request: 'GET /health', event: apiEvent('GET', '/health', 'GET /health') },
  {
    name: 'jobs',
    request: 'GET /v1/queues (one query)',
    event: apiEvent('GET', '/v1/queues', 'GET /v1/queues'),
  },
  { name: 'fallback', request: 'unknown route (404)', event: apiEvent('GET', '/nowhere', '$default') },
  {
    name: 'managed',
    request: 'retry of an unknown managed job (1 read)',
    event: apiEvent(
      'POST',
      `/v1/managed/queues/${GHOST.queue}/jobs/${GHOST.id}/retry`,
      'POST /v1/managed/queues/{queue}/jobs/{id}/retry',
    ),
  },
  {
    name: 'executor',
    request: 'runs `/bin/true` and streams its end',
    event: {
      version: 1,
      run: { queue: GHOST.queue, id: GHOST.id, run_id: GHOST.runId },
      spec: { command: '/bin/true', args: [], timeoutMs: 10_000 },
    },
  },
  {
    name: 'dispatcher',
    request: 'SQS hint for an unknown job (2 reads)',
    event: {
      Records: [
        {
          messageId: 'cold-start',
          receiptHandle: 'cold-start',
          body: JSON.stringify({ queue: GHOST.queue, id: GHOST.id }),
          attributes: {
            ApproximateReceiveCount: '1',
            SentTimestamp: '0',
            SenderId: 'bench',
            ApproximateFirstReceiveTimestamp: '0',
          },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:relay-dispatch',
          awsRegion: LOCAL_REGION,
        },
      ],
    },
  },
  {
    name: 'maintenance',
    request: 'sweep of an empty table',
    event: { 'detail-type': 'Scheduled Event', detail: {} },
  },
  {
    name: 'task-events',
    request: 'STOPPED event, unknown job (1 read)',
    event: {
      'detail-type': 'ECS Task State Change',
      source: 'aws.ecs',
      detail: {
        taskArn: 'arn:aws:ecs:us-east-1:123456789012:task/relay/cold-start',
        lastStatus: 'STOPPED',
        startedBy: 'relay',
        stopCode: 'EssentialContainerExited',
        containers: [{ name: 'runner', exitCode: 0 }],
        overrides: {
          containerOverrides: [{ name: 'runner', command: ['--job', GHOST.queue, GHOST.id, GHOST.runId] }],
        },
      },
    },
  },
];

/** The Lambda environment the stack would set, pointed at the local emulators. */
function lambdaEnv(ctx: BenchContext): NodeJS.ProcessEnv {
  const { stack } = ctx;
  return {
    PATH: process.env.PATH,
    // No NODE_OPTIONS, as on Lambda: without `--enable-source-maps`, the map waits for a logged stack.
    AWS_REGION: LOCAL_REGION,
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    RELAY_LOG_LEVEL: 'silent',
    ...stack.environment,
    [Env.TABLE_NAME]: TABLE,
    [Env.EXECUTOR_FUNCTION]: 'relay-executor',
    // The dispatcher reads its Fargate settings at cold start; they are never used here.
    [Env.RUNNER_CLUSTER]: 'relay-cold-start',
    [Env.RUNNER_TASK_DEFINITION]: 'relay-runner',
    [Env.RUNNER_CONTAINER]: 'runner',
    [Env.RUNNER_SUBNETS]: 'subnet-cold-start',
  };
}

/** Where a bundle gets the AWS SDK: from the Lambda runtime (`external`), or from itself. */
type SdkSource = 'external' | 'bundled';
const SDK_SOURCES: readonly SdkSource[] = ['external', 'bundled'];

/** Builds one entry as RelayFunction does; returns the bundle, its size and what it holds. */
async function bundle(dir: string, name: string, sdk: SdkSource) {
  const file = join(dir, sdk, name, 'index.mjs');
  const { metafile } = await build({
    entryPoints: [join(ROOT, 'functions', 'handlers', `${name}.ts`)],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: TARGET,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
    external: sdk === 'external' ? ['@aws-sdk/*'] : [],
    alias: sdk === 'bundled' ? { ...LAMBDA_ALIASES } : {},
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    mainFields: ['module', 'main'],
    metafile: true,
    logLevel: 'warning',
  });
  const packages = outputBytesByPackage(metafile);
  const sdkBytes = Object.entries(packages)
    .filter(([name]) => /^@(aws-sdk|smithy|aws-crypto)\//.test(name))
    .reduce((sum, [, bytes]) => sum + bytes, 0);
  return { file, bytes: statSync(file).size, ownBytes: ownCodeBytes(packages), sdkBytes };
}

const median = (values: readonly number[]) => percentiles(values, [50]).p50;

interface Run {
  readonly importMs: number;
  readonly firstMs: number;
  readonly result: unknown;
}

/** One variant of a bundle: its sizes, and the medians and samples of its runs. */
function summary(variant: { bytes: number; sdkBytes: number; samples: readonly Run[] }) {
  return {
    bundleKiB: round(variant.bytes / 1024, 1),
    sdkKiB: round(variant.sdkBytes / 1024, 1),
    ...medians(variant.samples),
    samples: variant.samples.map((s) => ({ importMs: round(s.importMs, 1), firstMs: round(s.firstMs, 1) })),
  };
}

/** The medians of `runs` fresh processes: import, first request, and both in one process. */
function medians(samples: readonly Run[]) {
  return {
    importMs: round(median(samples.map((s) => s.importMs)), 1),
    firstMs: round(median(samples.map((s) => s.firstMs)), 1),
    totalMs: round(median(samples.map((s) => s.importMs + s.firstMs)), 1),
  };
}

function coldRun(harness: string, file: string, event: unknown, env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [harness, file, JSON.stringify(event)], { env });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => {
      const line = /^COLD (.*)$/m.exec(out)?.[1];
      if (code !== 0 || !line)
        reject(new Error(`cold start of ${file} failed (exit ${code}): ${err || out}`));
      else resolve(JSON.parse(line) as Run);
    });
  });
}

/** A 5xx or a failed batch item means the handler did not really handle the event. */
function check(name: string, result: unknown): void {
  const r = result as { statusCode?: number; batchItemFailures?: unknown[] } | undefined;
  if ((r?.statusCode ?? 200) >= 500 || r?.batchItemFailures?.length) {
    throw new Error(`${name} answered ${JSON.stringify(result)}`);
  }
}

export const bench: Bench = async (ctx) => {
  const runs = ctx.quick ? 2 : 10;
  const dir = join(ctx.workDir, 'cold-start');
  mkdirSync(dir, { recursive: true });
  // Bundles import `@aws-sdk/*` as Lambda's runtime provides it: here, from the repository's packages.
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const harness = join(dir, 'harness.mjs');
  writeFileSync(harness, HARNESS);
  const db = dynamoClient(ctx.stack.dynamodbEndpoint);
  await ensureTable(db, TABLE);
  db.destroy();
  const env = lambdaEnv(ctx);

  const results = [];
  for (const entry of ENTRIES) {
    const external = { ...(await bundle(dir, entry.name, 'external')), samples: [] as Run[] };
    const bundled = { ...(await bundle(dir, entry.name, 'bundled')), samples: [] as Run[] };
    // Alternate the variants run by run, so a busy moment on the machine weighs on both alike.
    for (let i = 0; i < runs; i++) {
      external.samples.push(await coldRun(harness, external.file, entry.event, env));
      bundled.samples.push(await coldRun(harness, bundled.file, entry.event, env));
    }
    check(`${entry.name} (SDK external)`, external.samples[0]?.result);
    check(`${entry.name} (SDK bundled)`, bundled.samples[0]?.result);
    const bySdk = { external: summary(external), bundled: summary(bundled) };
    const ownKiB = round(external.ownBytes / 1024, 1);
    ctx.log(
      `cold start: ${entry.name}: own code and zod ${ownKiB} KiB; ` +
        SDK_SOURCES.map(
          (sdk) => `SDK ${sdk}: import ${bySdk[sdk].importMs} ms, import + first ${bySdk[sdk].totalMs} ms`,
        ).join('; '),
    );
    results.push({ handler: entry.name, request: entry.request, ownKiB, ...bySdk });
  }

  const markdown = [
    table(
      [
        'handler',
        'first request',
        'own code + zod KiB',
        ...SDK_SOURCES.flatMap((sdk) => [
          `SDK ${sdk}: bundle KiB`,
          `SDK ${sdk}: import ms`,
          `SDK ${sdk}: import + first request ms`,
        ]),
      ],
      results.map((r) => [
        `\`${r.handler}\``,
        r.request,
        r.ownKiB,
        ...SDK_SOURCES.flatMap((sdk) => [r[sdk].bundleKiB, r[sdk].importMs, r[sdk].totalMs]),
      ]),
    ),
    '',
    `**How measured.** Each entry in functions/handlers/ is bundled with esbuild as \`RelayFunction\``,
    `builds it (ESM, minified, a source map beside it, the \`createRequire\` banner), twice: with \`@aws-sdk/*\``,
    'external (the copy in Lambda’s runtime) and with the SDK bundled (what `RelayFunction` deploys),',
    `with target \`${TARGET}\` for the Node.js ${process.versions.node} that runs it (Lambda: node24).`,
    '“Own code + zod” is what the minified bundle holds of Relay’s sources and zod (esbuild’s',
    'metafile), the part held under 200 KiB. Each run is a fresh `node` process (without',
    '`--enable-source-maps`, as on Lambda: the map is read only to decode a logged stack)',
    'that imports the bundle (an external SDK from the repository’s node_modules, as Lambda’s runtime',
    'provides it) and handles one event against the local stack’s DynamoDB and SQS (an empty table of',
    `its own, so every run does the same work); the figures are medians of ${runs} runs of each variant,`,
    'run alternately, and “import + first request” is the median of their sum in one process.',
    'Process start-up and Lambda’s own INIT are not included, and a Lambda function with less than',
    '1,769 MB gets less than one vCPU, so on AWS both figures are larger. The local stack shares the',
    'machine’s CPU, so the times vary from run to run: they compare the handlers and the variants.',
  ].join('\n');
  return [
    {
      id: 'cold-start',
      title: 'Cold start proxy',
      parameters: { runs, target: TARGET, sdk: SDK_SOURCES, table: TABLE, node: process.version },
      results,
      markdown,
    },
  ];
};

/**
 * `npx tsx bench/cold-start.ts [--quick]`: this section alone, on a local stack of its own; prints
 * its table and writes nothing.
 */
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.env.RELAY_LOG_LEVEL ??= 'silent';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { startLocalStack } = await import('../functions/local/stack.ts');
  const { readConfig } = await import('../functions/core/config.ts');
  const workDir = mkdtempSync(join(tmpdir(), 'relay-cold-start-'));
  const stack = await startLocalStack({ port: 0 });
  try {
    const log = (line: string) => process.stdout.write(`${line}\n`);
    const config = readConfig({ ...process.env, ...stack.environment });
    const [section] = await bench({ stack, config, quick: process.argv.includes('--quick'), log, workDir });
    log(`\n${section?.markdown}`);
  } finally {
    await stack.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}
