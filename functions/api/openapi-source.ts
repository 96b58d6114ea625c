/**
 * Where an entry point gets the OpenAPI document from, once per process: a JSON file written by
 * the build (the Lambda functions: scripts/openapi.mjs, beside the bundle), or the generator itself
 * (the local server, whose bundle may carry it).
 */
import { readFile } from 'node:fs/promises';

/** The document in `file`, read on first request and kept. */
export function openApiFile(file: URL): () => Promise<string> {
  let text: Promise<string> | undefined;
  return () => {
    text ??= readFile(file, 'utf8');
    return text;
  };
}

/** The document `generate` builds, on first request, kept. */
export function openApiGenerated(generate: () => unknown): () => Promise<string> {
  let text: string | undefined;
  return async () => {
    text ??= JSON.stringify(generate());
    return text;
  };
}
