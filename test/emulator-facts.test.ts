/**
 * Facts about the emulators Relay's local mode and tests rely on, measured rather than assumed.
 * If an emulator upgrade changes one of them, this file says which design decision to revisit.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { awsClientConfig } from '../functions/core/clients.ts';
import { type DynamoDbLocal, startDynamoDbLocal } from '../functions/local/dynamodb-local.ts';
import { sqsForFile } from './support/sqs.ts';
import { freshStore, TestClock } from './support/store.ts';

const simpleTable = (TableName: string) =>
  new CreateTableCommand({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  });

const item = (pk: string, extra: Record<string, { S: string } | { N: string }> = {}) => ({
  pk: { S: pk },
  ...extra,
});

describe('DynamoDB Local', () => {
  const client = new DynamoDBClient(awsClientConfig(inject('dynamodbEndpoint')));
  const table = `facts-${randomUUID()}`;
  beforeAll(async () => {
    await client.send(simpleTable(table));
  });

  it('runs transactions atomically and names the old item of a failed condition', async () => {
    await client.send(new PutItemCommand({ TableName: table, Item: item('held', { v: { N: '1' } }) }));
    const attempt = client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: table, Item: item('fresh') } },
          {
            Put: {
              TableName: table,
              Item: item('held'),
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      }),
    );
    await expect(attempt).rejects.toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [
        { Code: 'None' },
        { Code: 'ConditionalCheckFailed', Item: item('held', { v: { N: '1' } }) },
      ],
    });
    expect(
      (await client.send(new GetItemCommand({ TableName: table, Key: item('fresh') }))).Item,
    ).toBeUndefined();
  });

  it('returns the old item when a single write fails its condition', async () => {
    await client.send(new PutItemCommand({ TableName: table, Item: item('one', { v: { N: '7' } }) }));
    const attempt = client.send(
      new PutItemCommand({
        TableName: table,
        Item: item('one'),
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    await expect(attempt).rejects.toMatchObject({
      name: 'ConditionalCheckFailedException',
      Item: item('one', { v: { N: '7' } }),
    });
  });

  it('accepts a stream specification', async () => {
    const name = `facts-stream-${randomUUID()}`;
    await client.send(
      new CreateTableCommand({
        ...simpleTable(name).input,
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
      }),
    );
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    expect(Table?.StreamSpecification?.StreamEnabled).toBe(true);
    expect(Table?.LatestStreamArn).toMatch(/^arn:aws:dynamodb:/);
  });

  it('treats a job past retention as gone even while its item still exists', async () => {
    const clock = new TestClock();
    const { store } = await freshStore({ clock: clock.read });
    await store.enqueue({ queue: 'q', id: 'a', payload: 1, timeout: 30, max_retries: 0 });
    await store.claim('q', 1);
    await store.complete('q', 'a');
    clock.advance(8 * 86_400_000); // past the 7-day retention
    expect(await store.get('q', 'a')).toBeUndefined();
    await store.enqueue({ queue: 'q', id: 'a', payload: 2, timeout: 30, max_retries: 0 });
    expect((await store.get('q', 'a'))?.payload).toBe(2);
  });
});

describe('DynamoDB Local TTL', () => {
  // Its own engine: the shared one holds every test file's tables, and its background TTL sweep
  // walks them all, so under a full run the measurement would say more about load than about TTL.
  let engine: DynamoDbLocal;
  let client: DynamoDBClient;
  const table = 'ttl-facts';
  beforeAll(async () => {
    engine = await startDynamoDbLocal();
    client = new DynamoDBClient(awsClientConfig(engine.endpoint));
    await client.send(simpleTable(table));
  });
  afterAll(() => engine.stop());

  it('accepts TTL configuration and deletes an expired item in the background', async () => {
    // Measured: DynamoDB Local 3.3 removes expired items within a couple of seconds. Real DynamoDB
    // deletes them lazily (often days later), which is why the store's reads ignore expired items.
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: 'expires_at', Enabled: true },
      }),
    );
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
    expect(ttl.TimeToLiveDescription?.TimeToLiveStatus).toBe('ENABLED');
    const longAgo = String(Math.floor(Date.now() / 1000) - 86_400);
    await client.send(
      new PutItemCommand({ TableName: table, Item: item('expired', { expires_at: { N: longAgo } }) }),
    );
    const read = () =>
      client.send(new GetItemCommand({ TableName: table, Key: item('expired'), ConsistentRead: true }));
    expect((await read()).Item).toBeDefined();
    await expect.poll(async () => (await read()).Item, { timeout: 30_000, interval: 250 }).toBeUndefined();
  });
});

describe('dynalite', () => {
  let server: ReturnType<typeof dynalite>;
  let client: DynamoDBClient;
  beforeAll(async () => {
    server = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new DynamoDBClient(
      awsClientConfig(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    );
    await client.send(simpleTable('facts'));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('does not support transactions, so it cannot be Relay’s engine', async () => {
    const attempt = client.send(
      new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: 'facts', Item: item('a') } }] }),
    );
    await expect(attempt).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });

  it('does not return the old item when a condition fails', async () => {
    await client.send(new PutItemCommand({ TableName: 'facts', Item: item('b') }));
    const error = await client
      .send(
        new PutItemCommand({
          TableName: 'facts',
          Item: item('b'),
          ConditionExpression: 'attribute_not_exists(pk)',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect((error as { Item?: unknown }).Item).toBeUndefined();
  });
});

describe('fauxqs', () => {
  const sqs = sqsForFile();

  const queue = async (name: string, attributes: Record<string, string> = {}) => {
    const { QueueUrl } = await sqs.client.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    return QueueUrl as string;
  };
  const receive = (
    QueueUrl: string,
    extra: Partial<ConstructorParameters<typeof ReceiveMessageCommand>[0]> = {},
  ) =>
    sqs.client
      .send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, ...extra }))
      .then((r) => r.Messages ?? []);

  it('redrives a message to the dead-letter queue after maxReceiveCount receives', async () => {
    const dlq = await queue('facts-dlq');
    const { Attributes } = await sqs.client.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] }),
    );
    const source = await queue('facts-source', {
      VisibilityTimeout: '0',
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes?.QueueArn, maxReceiveCount: 2 }),
    });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: source, MessageBody: 'poison' }));
    expect(await receive(source)).toHaveLength(1);
    expect(await receive(source)).toHaveLength(1);
    expect(await receive(source)).toHaveLength(0); // third receive: moved instead of delivered
    expect((await receive(dlq)).map((m) => m.Body)).toEqual(['poison']);
  });

  it('hides a received message for its visibility timeout', async () => {
    const url = await queue('facts-visibility', { VisibilityTimeout: '1' });
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'once' }));
    expect(await receive(url)).toHaveLength(1);
    expect(await receive(url)).toHaveLength(0);
    await expect.poll(async () => (await receive(url)).length, { timeout: 10_000, interval: 200 }).toBe(1);
  });

  it('delays a message by its DelaySeconds', async () => {
    const url = await queue('facts-delay');
    await sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'later', DelaySeconds: 1 }));
    expect(await receive(url)).toHaveLength(0);
    await expect.poll(async () => (await receive(url)).length, { timeout: 10_000, interval: 200 }).toBe(1);
  });

  it('long-polls until a message arrives', async () => {
    const url = await queue('facts-long-poll');
    const waiting = receive(url, { WaitTimeSeconds: 5 });
    setTimeout(
      () => void sqs.client.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'arrived' })),
      200,
    );
    expect((await waiting).map((m) => m.Body)).toEqual(['arrived']);
  });

  it('sends and receives batches of ten', async () => {
    const url = await queue('facts-batch');
    const Entries = Array.from({ length: 10 }, (_, i) => ({ Id: `m${i}`, MessageBody: `body ${i}` }));
    const sent = await sqs.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries }));
    expect(sent.Successful).toHaveLength(10);
    expect(await receive(url)).toHaveLength(10);
  });
});
