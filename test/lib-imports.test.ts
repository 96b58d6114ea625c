/**
 * What CDK synthesis loads: lib/ and the CDK app (bin/app.ts) may load aws-cdk-lib, constructs,
 * cdk-nag and a few pure modules of functions/, and never runtime code (STYLE rule 27). Every lib
 * module and bin/app.ts is imported in a child process that records each module Node loads, so an
 * import anywhere in the graph, direct or transitive, is seen as Node sees it. (bin/relay.ts is the
 * CLI: runtime code by design.)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The modules of functions/ that lib may load: constants only, importing nothing. */
const PURE_MODULES = [
  'functions/api/routes.ts',
  'functions/core/dispatch-source.ts',
  'functions/core/env.ts',
  'functions/core/metric-names.ts',
  'functions/core/runner-task.ts',
];

/** Packages only the runtime uses. */
const RUNTIME_PACKAGES =
  /^(zod|prom-client|@aws-sdk\/.*|@smithy\/.*|@aws-crypto\/.*|@middy\/.*|ulid|commander)$/;

/** Records the URL of every module resolved, one a line, in the file named by `data`. */
const HOOKS = `
import { appendFileSync } from 'node:fs';
let log;
export function initialize(file) { log = file; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(log, resolved.url + '\\n');
  return resolved;
}`;

const dataUrl = (source: string) => `data:text/javascript,${encodeURIComponent(source)}`;

/** Every module that importing `entries` loads, as paths relative to the repository (packages as `node_modules/...`). */
function modulesLoadedBy(entries: readonly string[], dir: string): string[] {
  const log = join(dir, 'modules.log');
  const register = `import { register } from 'node:module';
register(${JSON.stringify(dataUrl(HOOKS))}, { data: ${JSON.stringify(log)} });`;
  // The resolve hook sees every ES module; CommonJS ones (aws-cdk-lib and what it requires) are
  // read from require.cache once everything is loaded.
  const load = [
    ...entries.map((entry) => `await import(${JSON.stringify(pathToFileURL(join(ROOT, entry)).href)});`),
    `const { appendFileSync } = await import('node:fs');`,
    `const { createRequire } = await import('node:module');`,
    `const { pathToFileURL } = await import('node:url');`,
    `for (const file of Object.keys(createRequire(import.meta.url).cache)) appendFileSync(${JSON.stringify(log)}, pathToFileURL(file).href + '\\n');`,
  ];
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--import', dataUrl(register), '--input-type=module', '-e', load.join('\n')],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
  );
  if (run.status !== 0) throw new Error(`importing ${entries.join(', ')} failed:\n${run.stderr}`);
  const urls = readFileSync(log, 'utf8')
    .split('\n')
    .filter((url) => url.startsWith('file:'));
  return [...new Set(urls.map((url) => relative(ROOT, fileURLToPath(url))))].sort();
}

/** The package a module under node_modules belongs to (the innermost, for nested installs). */
function packageOf(path: string): string | undefined {
  const match = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return match?.[1];
}

describe('what synthesis loads', () => {
  const entries = [
    ...readdirSync(join(ROOT, 'lib'))
      .filter((name) => name.endsWith('.ts'))
      .map((name) => `lib/${name}`),
    'bin/app.ts',
  ];
  let loaded: string[];

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'relay-lib-imports-'));
    try {
      loaded = modulesLoadedBy(entries, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 130_000);

  it('sees the modules it imports, so the checks below are not vacuous', () => {
    expect(loaded).toEqual(
      expect.arrayContaining(['lib/relay-stack.ts', 'bin/app.ts', 'functions/core/env.ts']),
    );
    expect(loaded.some((path) => packageOf(path) === 'aws-cdk-lib')).toBe(true);
  });

  it('loads no module of functions/ but the pure ones', () => {
    const runtime = loaded.filter((path) => path.startsWith('functions/') && !PURE_MODULES.includes(path));

    expect(runtime).toEqual([]);
  });

  it('loads no package only the runtime uses: zod, the AWS SDK, middy…', () => {
    const packages = [...new Set(loaded.map(packageOf).filter((name) => name !== undefined))];

    expect(packages.filter((name) => RUNTIME_PACKAGES.test(name))).toEqual([]);
  });

  it.each(PURE_MODULES)('may load %s, which imports nothing', (path) => {
    const source = readFileSync(join(ROOT, path), 'utf8');

    expect(source).not.toMatch(/^\s*(import|export)\b[^;]*\bfrom\s+['"]/m);
    expect(source).not.toMatch(/\bimport\s*\(/);
  });
});
