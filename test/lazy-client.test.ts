/**
 * A client that only some requests use (SQS for a managed job's hint, ECS to stop a runner task)
 * is built by the first call that needs it, so a cold start that needs none does not build it.
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { dynamoClient, lazyClient } from '../functions/core/clients.ts';

describe('a lazy client', () => {
  it('is built by its first call, once, and then answers every call', async () => {
    let built = 0;
    const client = lazyClient(() => {
      built++;
      return dynamoClient(inject('dynamodbEndpoint'));
    });
    expect(built).toBe(0);

    const first = await client.send(new ListTablesCommand({ Limit: 1 }));
    const second = await client.send(new ListTablesCommand({ Limit: 1 }));

    expect(built).toBe(1);
    expect(first.$metadata.httpStatusCode).toBe(200);
    expect(second.$metadata.httpStatusCode).toBe(200);
  });
});
