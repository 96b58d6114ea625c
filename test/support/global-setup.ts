import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../functions/local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

/**
 * One DynamoDB Local for the whole run; every test file makes its own table in it. The CLI is
 * built once here too: test files that spawn it must not rebuild it while another one runs it.
 */
export default async function setup(project: TestProject) {
  const [engine] = await Promise.all([
    startDynamoDbLocal(),
    promisify(execFile)(process.execPath, ['scripts/build.mjs']),
  ]);
  project.provide('dynamodbEndpoint', engine.endpoint);
  return () => engine.stop();
}
