/**
 * What every Lambda bundle substitutes at build time, in one place for `RelayFunction` and for the
 * bench's cold start proxy, so the bench measures the bundle that is deployed. Free of CDK imports.
 */
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/**
 * esbuild aliases: the SDK's default credential chain becomes its environment link alone
 * (functions/core/lambda-credentials.ts says why that is all a Lambda function needs).
 */
export const LAMBDA_ALIASES: Readonly<Record<string, string>> = {
  '@aws-sdk/credential-provider-node': path.join(ROOT, 'functions', 'core', 'lambda-credentials.ts'),
};

/** The aliases as `NodejsFunction`'s `esbuildArgs`. */
export const lambdaAliasArgs = (): Record<string, string> =>
  Object.fromEntries(Object.entries(LAMBDA_ALIASES).map(([from, to]) => [`--alias:${from}`, to]));
