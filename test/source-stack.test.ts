/**
 * Lambda functions run a minified bundle without `--enable-source-maps` (Node.js would parse the
 * whole map at every cold start), yet a logged error's stack names the sources: `describeError`
 * decodes it with the map beside the bundle, read only when a stack is logged.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';

const LOG = fileURLToPath(new URL('../functions/core/log.ts', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'relay-source-stack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A program that fails on line 4 of its source and prints `describeError` of it. */
const SOURCE = `import { describeError } from ${JSON.stringify(LOG)};

function failToClaim(): never {
  throw new Error('lease lost');
}

try {
  failToClaim();
} catch (error) {
  process.stdout.write(JSON.stringify(describeError(error)));
}
`;

/** Bundles the program as RelayFunction does (minified ESM, a map without the sources), runs it. */
async function loggedStack(options: { map: boolean }): Promise<{ source: string; stack: string }> {
  const source = path.join(dir, `failing-${options.map}.ts`);
  const bundle = path.join(dir, `failing-${options.map}.mjs`);
  writeFileSync(source, SOURCE);
  await build({
    entryPoints: [source],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    minify: true,
    sourcemap: options.map,
    sourcesContent: false,
    logLevel: 'silent',
  });
  const env = { PATH: process.env.PATH, NODE_OPTIONS: '' };
  const out = execFileSync(process.execPath, [bundle], { env, encoding: 'utf8' });
  return { source, stack: (JSON.parse(out) as { stack: string }).stack };
}

describe('a logged stack of a bundle run without --enable-source-maps', () => {
  it('names the source file, line and column where the error was thrown', async () => {
    const { source, stack } = await loggedStack({ map: true });

    expect(stack.split('\n')[1]).toContain(`${source}:4:9`);
  });

  it('names the bundle where no map lies beside it', async () => {
    const { stack } = await loggedStack({ map: false });

    expect(stack.split('\n')[1]).toMatch(/failing-false\.mjs:\d+:\d+\)?$/);
  });
});
