/**
 * The one fault injector of the tests and the reliability suite (test/support/faults.ts): where a
 * fault applies, and what the injected errors look like to Relay's error handling.
 */
import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, inject, it } from 'vitest';
import { documentClient, dynamoClient } from '../functions/core/clients.ts';
import { ensureTable } from '../functions/jobs/table.ts';
import { awsError, errorFaults, failCalls, INJECTED, onClient, throttled } from './support/faults.ts';

async function table() {
  const endpoint = inject('dynamodbEndpoint');
  const name = `faults-${randomUUID()}`;
  await ensureTable(dynamoClient(endpoint), name);
  return { endpoint, name };
}

const get = (name: string) => new GetCommand({ TableName: name, Key: { pk: 'a', sk: 'b' } });

describe('onClient', () => {
  it('fails the calls of the one client it is installed on, and of no other', async () => {
    const { endpoint, name } = await table();
    const faulty = documentClient(endpoint);
    const healthy = documentClient(endpoint);
    onClient(
      faulty,
      failCalls((call) => throttled(call)),
    );

    await expect(faulty.send(get(name))).rejects.toMatchObject({
      name: 'ProvisionedThroughputExceededException',
      message: `${INJECTED}: DynamoDB.GetItem throttled`,
    });
    await expect(healthy.send(get(name))).resolves.toBeDefined();
  });

  it('stops failing calls once removed', async () => {
    const { endpoint, name } = await table();
    const db = documentClient(endpoint);
    const remove = onClient(
      db,
      failCalls(() => awsError('ServiceUnavailable')),
    );
    await expect(db.send(get(name))).rejects.toMatchObject({ name: 'ServiceUnavailable' });

    remove();

    await expect(db.send(get(name))).resolves.toBeDefined();
  });
});

describe('errorFaults', () => {
  it('fails the share of calls it is given, as throttling or a 500 before or after the call', async () => {
    const { endpoint, name } = await table();
    const db = documentClient(endpoint);
    const kinds: string[] = [];
    // Each call draws twice: whether it fails (below the rate), then how.
    const draws = [0, 0.1, 0, 0.6, 0, 0.9, 0.5];
    onClient(
      db,
      errorFaults(0.5, { random: () => draws.shift() ?? 1, onFault: (_call, kind) => kinds.push(kind) }),
    );

    const outcomes = [];
    for (let i = 0; i < 4; i++)
      outcomes.push(
        await db.send(get(name)).then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );

    expect(kinds).toEqual(['throttled', 'error-before', 'error-after']);
    expect(outcomes).toEqual([
      'ProvisionedThroughputExceededException',
      'InternalServerError',
      'InternalServerError',
      'ok',
    ]);
  });
});
