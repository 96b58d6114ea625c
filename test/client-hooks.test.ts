/**
 * Client hooks: every AWS call of Relay's clients passes through them, so benchmarks can count
 * requests and consumed capacity and reliability tests can inject faults, with real emulators.
 */
import { randomUUID } from 'node:crypto';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { addClientHook, type ClientCall, documentClient, dynamoClient } from '../functions/core/clients.ts';
import { ensureTable } from '../functions/jobs/table.ts';

const removers: (() => void)[] = [];
afterEach(() => {
  for (const remove of removers.splice(0)) remove();
});

async function table() {
  const endpoint = inject('dynamodbEndpoint');
  const name = `hooks-${randomUUID()}`;
  await ensureTable(dynamoClient(endpoint), name);
  return { db: documentClient(endpoint), name };
}

describe('client hooks', () => {
  it('see each call’s service, API operation and input', async () => {
    const { db, name } = await table();
    const calls: ClientCall[] = [];
    removers.push(
      addClientHook(async (call, next) => {
        calls.push(call);
        return next();
      }),
    );

    await db.send(new PutCommand({ TableName: name, Item: { pk: 'a', sk: 'b' } }));

    expect(calls.map((c) => `${c.service}.${c.operation}`)).toEqual(['DynamoDB.PutItem']);
    expect(calls[0]?.input).toMatchObject({ TableName: name });
  });

  it('may amend the input and read the output: consumed capacity on request', async () => {
    const { db, name } = await table();
    const consumed: unknown[] = [];
    removers.push(
      addClientHook(async (call, next) => {
        (call.input as Record<string, unknown>).ReturnConsumedCapacity = 'INDEXES';
        const output = (await next()) as { ConsumedCapacity?: unknown };
        consumed.push(output.ConsumedCapacity);
        return output;
      }),
    );

    await db.send(new PutCommand({ TableName: name, Item: { pk: 'a', sk: 'b' } }));

    expect(consumed).toEqual([expect.objectContaining({ TableName: name, CapacityUnits: 1 })]);
  });

  it('may fail a call without it reaching the emulator', async () => {
    const { db, name } = await table();
    const remove = addClientHook(async () => {
      throw new ProvisionedThroughputExceededException({ message: 'injected', $metadata: {} });
    });

    await expect(db.send(new PutCommand({ TableName: name, Item: { pk: 'a', sk: 'b' } }))).rejects.toThrow(
      'injected',
    );
    remove();
    expect(
      (await db.send(new GetCommand({ TableName: name, Key: { pk: 'a', sk: 'b' } }))).Item,
    ).toBeUndefined();
  });

  it('stop applying once removed, to clients created before they were added too', async () => {
    const { db, name } = await table();
    let seen = 0;
    const remove = addClientHook(async (_call, next) => {
      seen++;
      return next();
    });
    await db.send(new GetCommand({ TableName: name, Key: { pk: 'a', sk: 'b' } }));
    remove();
    await db.send(new GetCommand({ TableName: name, Key: { pk: 'a', sk: 'b' } }));

    expect(seen).toBe(1);
  });
});
