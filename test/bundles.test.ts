/**
 * Production code carries no test or bench tooling: the fault injector, the call log and the
 * preloaded hooks live in test/support/, and no file the build writes to dist/ (the CLI, the
 * runner, the executor) nor any Lambda function bundle holds them.
 *
 * The Lambda bundles are built here with esbuild as `RelayFunction` builds them at synth (minified
 * ESM for Node 24), one per entry in functions/handlers/, but for the AWS SDK: `RelayFunction`
 * bundles it, and it holds neither test tooling nor code counted here, so it is left out to keep
 * this fast (test/synth.test.ts checks the bundles synthesis writes). What grows with Relay
 * (its own code and zod) stays under a ceiling: that is what a cold start loads besides the SDK.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import {
  type Metafile,
  OWN_CODE_CEILING_BYTES,
  outputBytesByPackage,
  ownCodeBytes,
} from '../scripts/bundles.ts';
import { INJECTED } from './support/faults.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HANDLERS = path.join(ROOT, 'functions/handlers');

/**
 * Strings only the test tooling holds: the injector's error message, and the variables by which
 * production code once installed the hooks (`RELAY_FAULT_*`, `RELAY_CALL_LOG`) and their
 * installers. Bundles keep no comments, so prose that mentions injected faults does not count.
 */
const MARKERS = [INJECTED, 'RELAY_FAULT', 'RELAY_CALL_LOG', 'installFaultsFromEnv', 'installCallLogFromEnv'];

/** Inputs that are test or bench code: anything under test/ or bench/. */
const toolingInputs = (inputs: readonly string[]) =>
  inputs.filter((input) => /(^|\/)(test|bench)\//.test(input));

const markersIn = (text: string) => MARKERS.filter((marker) => text.includes(marker));

interface Bundle {
  readonly text: string;
  readonly inputs: string[];
  readonly metafile: Metafile;
}

const bundles = new Map<string, Promise<Bundle>>();

/** One entry bundled as `RelayFunction` bundles it (once per file). */
function lambdaBundle(entry: string): Promise<Bundle> {
  let bundle = bundles.get(entry);
  if (!bundle) {
    bundle = buildBundle(entry);
    bundles.set(entry, bundle);
  }
  return bundle;
}

async function buildBundle(entry: string): Promise<Bundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    target: 'node24',
    format: 'esm',
    minify: true,
    mainFields: ['module', 'main'],
    external: ['@aws-sdk/*'],
    banner: {
      js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
    },
    metafile: true,
    write: false,
    outdir: 'out',
    logLevel: 'silent',
  });
  return {
    text: result.outputFiles.map((file) => file.text).join('\n'),
    inputs: Object.keys(result.metafile.inputs),
    metafile: result.metafile,
  };
}

describe('the Lambda function bundles', () => {
  const entries = readdirSync(HANDLERS).filter((name) => name.endsWith('.ts'));

  it.each(entries)('built from functions/handlers/%s hold no fault injector or call log', async (name) => {
    const bundle = await lambdaBundle(path.join(HANDLERS, name));

    expect(toolingInputs(bundle.inputs)).toEqual([]);
    expect(markersIn(bundle.text)).toEqual([]);
  });

  it.each(entries)(
    'built from functions/handlers/%s hold at most 200 KiB of Relay’s code and zod',
    async (name) => {
      const packages = outputBytesByPackage((await lambdaBundle(path.join(HANDLERS, name))).metafile);

      expect(packages['(relay)']).toBeGreaterThan(0);
      expect(ownCodeBytes(packages)).toBeLessThanOrEqual(OWN_CODE_CEILING_BYTES);
    },
  );

  it('would be caught holding more: a bundle that imports zod by name keeps all of it', async () => {
    const packages = outputBytesByPackage(
      (await lambdaBundle(path.join(ROOT, 'test/support/zod-by-name.ts'))).metafile,
    );

    expect(ownCodeBytes(packages)).toBeGreaterThan(OWN_CODE_CEILING_BYTES);
  });

  it('would be caught holding them: a bundle of the preloaded hooks has the markers', async () => {
    const bundle = await lambdaBundle(path.join(ROOT, 'test/support/child-hooks.ts'));

    expect(toolingInputs(bundle.inputs)).not.toEqual([]);
    expect(markersIn(bundle.text)).toContain(INJECTED);
  });
});

describe('npm run build (dist/)', () => {
  const dist = path.join(ROOT, 'dist');
  const programs = readdirSync(dist).filter((name) => name.endsWith('.mjs'));

  it('writes the CLI, the runner and the executor', () => {
    expect(programs).toEqual(expect.arrayContaining(['relay.mjs', 'runner.mjs', 'executor.mjs']));
  });

  it.each(programs)('writes dist/%s without the fault injector or call log', (name) => {
    const text = readFileSync(path.join(dist, name), 'utf8');
    // The source map names every input of the bundle.
    const map = JSON.parse(readFileSync(path.join(dist, `${name}.map`), 'utf8')) as { sources: string[] };

    expect(toolingInputs(map.sources)).toEqual([]);
    expect(markersIn(text)).toEqual([]);
  });
});
