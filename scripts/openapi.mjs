// Writes the OpenAPI document of Relay's HTTP API (functions/api/openapi.ts) as JSON: to
// dist/openapi.json for `npm run build`, and into the bundle of the API function that serves
// `GET /openapi.json` on AWS (RelayFunction's `openApiDocument`), so no Lambda bundle carries the
// generator. Usage: node scripts/openapi.mjs [file], default dist/openapi.json.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The document, built from the sources: the generator bundled into a scratch module beside
 * node_modules (where its dependencies resolve), imported, and removed.
 */
export async function openApiJson() {
  const scratch = path.join(ROOT, 'node_modules/.cache', `relay-openapi-${process.pid}.mjs`);
  await build({
    entryPoints: [path.join(ROOT, 'functions/api/openapi.ts')],
    outfile: scratch,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    packages: 'external',
    logLevel: 'warning',
  });
  try {
    const { openApiDocument } = await import(pathToFileURL(scratch).href);
    return `${JSON.stringify(openApiDocument())}\n`;
  } finally {
    rmSync(scratch, { force: true });
  }
}

export async function writeOpenApi(file = path.join(ROOT, 'dist/openapi.json')) {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, await openApiJson());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await writeOpenApi(process.argv[2]);
