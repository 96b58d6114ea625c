/**
 * Hooks for child processes, from the test's or benchmark's side: a preload module that installs
 * `ChildHooks` (child-hooks.ts) and is loaded with `NODE_OPTIONS=--import <file>`: how a worker
 * process, or the runner program, gets faults or a skewed clock.
 *
 * The preload is bundled by esbuild into one plain `.mjs` file (children are plain node, with no
 * TypeScript loader), with its settings written in. Relay's own client module keeps its hooks on
 * `globalThis`, so hooks the preload adds reach the bundled program's clients.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { ChildHooks } from './child-hooks.ts';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/**
 * Leaves packages out of the bundle, imported from where they are installed: the preload may be
 * written anywhere, and it shares the program's copies of the AWS SDK instead of loading its own.
 */
const packagesInPlace: Plugin = {
  name: 'packages-in-place',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path: specifier }) => ({
      path: specifier.startsWith('node:') ? specifier : import.meta.resolve(specifier),
      external: true,
    }));
  },
};

/**
 * Builds, into `dir`, a preload that installs `hooks` (once per set of hooks), and returns the
 * `NODE_OPTIONS` that load it into a child process besides what this process has in `NODE_OPTIONS`.
 */
export async function childHooksPreload(hooks: ChildHooks, dir: string): Promise<string> {
  const settings = JSON.stringify(hooks);
  const file = path.join(
    dir,
    `hooks-${createHash('sha256').update(settings).digest('hex').slice(0, 12)}.mjs`,
  );
  if (!existsSync(file)) {
    await build({
      stdin: {
        contents: `import { installChildHooks } from './child-hooks.ts';\ninstallChildHooks(${settings});\n`,
        resolveDir: HERE,
        sourcefile: 'preload.ts',
        loader: 'ts',
      },
      outfile: file,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      plugins: [packagesInPlace],
      logLevel: 'warning',
    });
  }
  return [process.env.NODE_OPTIONS, `--import ${JSON.stringify(file)}`].filter(Boolean).join(' ');
}
