/**
 * `GET /openapi.json`: the API's OpenAPI document, as the entry point supplies it (`ApiContext`).
 * The generator (openapi.ts) is not imported here, so the Lambda bundles do not carry it: on AWS
 * the document is a file the build wrote beside the bundle.
 */
import type { Operations } from './context.ts';
import { HttpError } from './http.ts';

export const docsOperations: Operations = {
  'GET /openapi.json': async (_req, ctx) => {
    if (!ctx.openapi) throw new HttpError(404, 'this Relay serves no OpenAPI document');
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: await ctx.openapi() };
  },
};
