import type { TestProject } from 'vitest/node';
import { startDynamoDbLocal } from '../../functions/local/dynamodb-local.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
  }
}

/** One DynamoDB Local for the whole run; every test file makes its own table in it. */
export default async function setup(project: TestProject) {
  const engine = await startDynamoDbLocal();
  project.provide('dynamodbEndpoint', engine.endpoint);
  return () => engine.stop();
}
