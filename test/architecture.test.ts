/**
 * The shape the code keeps (STYLE.md, "Modules"): no import cycles between files, folders that
 * depend one way, entry points that nothing imports, and no file over 500 lines. Read from the
 * sources' import statements, so a change that breaks a rule fails here before review.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    if (statSync(file).isDirectory()) return sources(file);
    return /\.(ts|tsx|mjs)$/.test(name) ? [file] : [];
  });
}

const FILES = [...sources(path.join(ROOT, 'functions')), ...sources(path.join(ROOT, 'lib'))];
const rel = (file: string) => path.relative(ROOT, file);

/** The files each file imports (relative imports and re-exports; packages are not followed). */
const IMPORTS = new Map(
  FILES.map((file) => {
    const text = readFileSync(file, 'utf8');
    const specifiers = [...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+['"](\.[^'"]+)['"]/gm)];
    return [file, specifiers.map((m) => path.resolve(path.dirname(file), m[1] as string))];
  }),
);

/** `functions/<folder>`, or `lib`. */
const folderOf = (file: string) => {
  const [top, folder] = rel(file).split(path.sep);
  return top === 'functions' ? `functions/${folder}` : (top as string);
};

/**
 * Who may import whom. Entry points (handlers, local, cli) wire and import the layers below; the
 * layers depend downwards only: api → dispatch → executor → runner → jobs → core. The SDK is a
 * client that ships on its own: it takes only the shared backoff from core.
 */
const MAY_IMPORT: Readonly<Record<string, readonly string[]>> = {
  'functions/core': [],
  'functions/jobs': ['functions/core'],
  'functions/runner': ['functions/jobs', 'functions/core'],
  'functions/executor': ['functions/runner', 'functions/jobs', 'functions/core'],
  'functions/dispatch': ['functions/executor', 'functions/runner', 'functions/jobs', 'functions/core'],
  'functions/api': ['functions/dispatch', 'functions/runner', 'functions/jobs', 'functions/core'],
  'functions/sdk': ['functions/core'],
  // The web dashboard: a browser app over the SDK, and the module that serves its files.
  'functions/dashboard': ['functions/sdk', 'functions/core'],
  'functions/handlers': [
    'functions/api',
    'functions/dispatch',
    'functions/executor',
    'functions/runner',
    'functions/jobs',
    'functions/core',
  ],
  // `relay dev` is the local stack's command: the one entry point another may use.
  'functions/local': [
    'functions/dashboard',
    'functions/api',
    'functions/dispatch',
    'functions/runner',
    'functions/jobs',
    'functions/core',
  ],
  'functions/cli': ['functions/local', 'functions/dashboard', 'functions/sdk', 'functions/core'],
  lib: ['functions/core', 'functions/api'],
};

/** The runtime modules lib/ may load at synth: dependency-free declarations, nothing that runs. */
const LIB_MAY_LOAD = [
  'functions/core/dispatch-source.ts',
  'functions/core/env.ts',
  'functions/core/metric-names.ts',
  'functions/core/runner-task.ts',
  'functions/api/routes.ts',
];

describe('the import graph', () => {
  it('has no cycle between files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (file: string) => {
      state.set(file, 'open');
      stack.push(file);
      for (const next of IMPORTS.get(file) ?? []) {
        if (!IMPORTS.has(next)) continue;
        if (state.get(next) === 'open') cycles.push(stack.slice(stack.indexOf(next)).map(rel).join(' → '));
        else if (!state.has(next)) visit(next);
      }
      stack.pop();
      state.set(file, 'done');
    };
    for (const file of FILES) if (!state.has(file)) visit(file);

    expect(cycles).toEqual([]);
  });

  it('has folders that depend one way, as MAY_IMPORT says', () => {
    const wrong = FILES.flatMap((file) =>
      (IMPORTS.get(file) ?? [])
        .filter((target) => IMPORTS.has(target))
        .filter((target) => folderOf(target) !== folderOf(file))
        .filter((target) => !(MAY_IMPORT[folderOf(file)] ?? []).includes(folderOf(target)))
        .map((target) => `${rel(file)} → ${rel(target)}`),
    );

    expect(wrong).toEqual([]);
  });

  it('keeps lib/ from loading runtime code at synth', () => {
    const loaded = FILES.filter((file) => folderOf(file) === 'lib').flatMap((file) =>
      (IMPORTS.get(file) ?? []).filter((target) => rel(target).startsWith('functions')).map(rel),
    );

    expect(loaded.filter((file) => !LIB_MAY_LOAD.includes(file))).toEqual([]);
    for (const pure of LIB_MAY_LOAD) {
      expect(IMPORTS.get(path.join(ROOT, pure)) ?? [], `${pure} imports nothing`).toEqual([]);
    }
  });

  it('knows every folder it checks', () => {
    expect(FILES.map(folderOf).filter((folder) => !(folder in MAY_IMPORT))).toEqual([]);
  });
});

describe('file size', () => {
  it('keeps every source file of functions/ and lib/ under 500 lines', () => {
    const long = FILES.map(
      (file) => [rel(file), readFileSync(file, 'utf8').split('\n').length] as const,
    ).filter(([, lines]) => lines > 500);

    expect(long).toEqual([]);
  });
});
