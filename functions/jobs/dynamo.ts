/**
 * The store's gateway to DynamoDB: the only module that sends it a command.
 *
 * - Every write takes a `Guard`: a named condition (`conditions.ts`) or a reasoned `unconditional`.
 *   A failed condition is a value, not an exception: `{ ok: false, old }` carries the item the
 *   condition saw (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so the caller can tell the
 *   precise domain error, or that there is nothing to do.
 * - A transaction cancelled by conditions answers, per write, whether its condition failed and on
 *   what item. A transaction cancelled for any other reason (throttling, a conflict with another
 *   transaction) is a `StoreBusyError`, for the caller to retry.
 * - One policy for a DynamoDB short of capacity: throttled and 5xx calls are retried by the SDK
 *   client itself (its standard retry strategy), and a call that still fails is a `StoreBusyError`
 *   (429/503 with `Retry-After` at the API; the sweep and dispatcher try again on their next pass).
 *   Items a batch call leaves unprocessed are sent again with exponential backoff and full jitter,
 *   `UNPROCESSED.tries` times in all, then they are a `StoreBusyError` too: `batchGet` and the
 *   batch writes never answer with less than they were asked for.
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html#Programming.Errors.BatchOperations
 */
import {
  BatchGetCommand,
  BatchWriteCommand,
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { retryDelayMs } from '../core/backoff.ts';
import { sleep } from '../core/concurrency.ts';
import { type Guard, isUnconditional, type Unconditional } from './conditions.ts';
import { StoreBusyError } from './errors.ts';
import { build, buildUpdate, type Change, type Condition } from './expressions.ts';
import { INDEX, type IndexName, type ItemKey } from './keys.ts';

/** An item as DynamoDB returns it, before a caller gives it its type. */
export type Stored = Record<string, unknown>;

/** A write whose condition failed, with the item the condition saw (`undefined`: there was none). */
export interface Refusal<T> {
  readonly old: T | undefined;
}

/** A conditional write that returns an item: the item (new or old, as asked), or the refusal. */
export type Written<T> = { readonly ok: true; readonly item: T } | ({ readonly ok: false } & Refusal<T>);

/** A conditional write that returns nothing when it succeeds. */
export type Done<T> = { readonly ok: true } | ({ readonly ok: false } & Refusal<T>);

/** A transaction's outcome: written, or refused, with the refusal of each write whose condition failed. */
export type Transacted =
  | { readonly ok: true }
  | { readonly ok: false; readonly refusals: readonly (Refusal<Stored> | undefined)[] };

type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

/** One write of a transaction, built by `putOf`, `updateOf` or `deleteOf`. */
export interface TransactWrite {
  readonly request: (table: string) => TransactItem;
}

/** The condition of a write, and the old item back when it fails. */
function guarded(when: Guard) {
  if (isUnconditional(when)) return {};
  return { ...build(when), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
}

/** `buildUpdate` of a guarded change. */
function guardedUpdate<T>(when: Guard, change: Change<T>) {
  if (isUnconditional(when)) return buildUpdate(undefined, change);
  return { ...buildUpdate(when, change), ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
}

export const putOf = (item: object, when: Guard): TransactWrite => ({
  request: (TableName) => ({ Put: { TableName, Item: item, ...guarded(when) } }),
});

export const updateOf = <T>(key: ItemKey, when: Guard, change: Change<T>): TransactWrite => ({
  request: (TableName) => ({ Update: { TableName, Key: key, ...guardedUpdate(when, change) } }),
});

export const deleteOf = (key: ItemKey, when: Guard): TransactWrite => ({
  request: (TableName) => ({ Delete: { TableName, Key: key, ...guarded(when) } }),
});

/** A condition on another item that the transaction needs to hold, writing nothing to it. */
export const checkOf = (key: ItemKey, when: Condition): TransactWrite => ({
  request: (TableName) => ({
    ConditionCheck: {
      TableName,
      Key: key,
      ...build(when),
      ConditionExpression: when.expression,
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  }),
});

/** Which sort keys of a partition a query reads. */
export type KeyRange =
  | { readonly below: string }
  | { readonly atMost: string }
  | { readonly atLeast: string }
  | { readonly between: readonly [from: string, to: string] }
  | { readonly prefix: string };

/** A query of one partition of the table or of an index. */
export interface KeyQuery {
  /** The index to read; the table when absent. */
  readonly index?: IndexName;
  /** The partition key's value. */
  readonly partition: string;
  readonly range?: KeyRange;
  /** Descending sort key order. */
  readonly descending?: boolean;
  readonly limit?: number;
  readonly startKey?: Stored;
  /** The attributes to read; all (or the index's projection) when absent. */
  readonly attributes?: readonly string[];
}

/** How often and how patiently unprocessed batch items are sent again. */
const UNPROCESSED = { tries: 8, baseMs: 10, maxMs: 1_000 } as const;

/** Errors that mean "DynamoDB is short of capacity or briefly unavailable: retry later". */
const BUSY = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TransactionConflictException',
  'TimeoutError',
]);

export class Dynamo {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    readonly table: string,
  ) {}

  /** A strongly consistent read of one item. */
  async get<T extends object>(key: ItemKey): Promise<T | undefined> {
    const out = await this.call(() =>
      this.client.send(new GetCommand({ TableName: this.table, Key: key, ConsistentRead: true })),
    );
    return out.Item as T | undefined;
  }

  async put<T extends object>(item: T, when: Guard): Promise<Written<T>> {
    return this.write(
      () => this.client.send(new PutCommand({ TableName: this.table, Item: item, ...guarded(when) })),
      () => item,
    );
  }

  /** Updates one item and returns it as it is after the write (`new`) or was before it (`old`). */
  async update<T extends object>(
    key: ItemKey,
    when: Guard,
    change: Change<T>,
    returns: 'new' | 'old' = 'new',
  ): Promise<Written<T>> {
    return this.write(
      () =>
        this.client.send(
          new UpdateCommand({
            TableName: this.table,
            Key: key,
            ...guardedUpdate(when, change),
            ReturnValues: returns === 'new' ? 'ALL_NEW' : 'ALL_OLD',
          }),
        ),
      (out) => out.Attributes as T,
    );
  }

  async delete<T extends object>(key: ItemKey, when: Guard): Promise<Done<T>> {
    const deleted = await this.write<T | undefined, unknown>(
      () => this.client.send(new DeleteCommand({ TableName: this.table, Key: key, ...guarded(when) })),
      () => undefined,
    );
    return deleted.ok ? { ok: true } : deleted;
  }

  /** Writes all of `writes` or none of them (at most 100 items and 4 MB: DynamoDB's limits). */
  async transact(writes: readonly TransactWrite[]): Promise<Transacted> {
    const TransactItems = writes.map((w) => w.request(this.table));
    try {
      await this.call(() => this.client.send(new TransactWriteCommand({ TransactItems })));
      return { ok: true };
    } catch (error) {
      if (nameOf(error) !== 'TransactionCanceledException') throw error;
      const reasons =
        (error as { CancellationReasons?: { Code?: string; Item?: Record<string, never> }[] })
          .CancellationReasons ?? [];
      const refused = (r: { Code?: string }) => r.Code === 'ConditionalCheckFailed';
      // Only failed conditions are a refusal; any other reason is a transient fault to retry.
      if (!reasons.some(refused)) throw new StoreBusyError(1, { cause: error });
      return {
        ok: false,
        refusals: reasons.map((r) =>
          refused(r) ? { old: r.Item ? unmarshall(r.Item) : undefined } : undefined,
        ),
      };
    }
  }

  /** One page of a query. */
  async query<T extends object>(q: KeyQuery): Promise<{ items: T[]; lastKey: Stored | undefined }> {
    const out = await this.call(() => this.client.send(new QueryCommand(this.queryInput(q))));
    return { items: (out.Items ?? []) as T[], lastKey: out.LastEvaluatedKey };
  }

  /** Every item a query matches, page after page. */
  async queryAll<T extends object>(q: KeyQuery): Promise<T[]> {
    const items: T[] = [];
    let startKey: Stored | undefined;
    do {
      const page = await this.query<T>({ ...q, startKey });
      items.push(...page.items);
      startKey = page.lastKey;
    } while (startKey);
    return items;
  }

  /** How many items a query matches (`Select: COUNT`, page after page). */
  async count(q: KeyQuery): Promise<number> {
    let count = 0;
    let startKey: Stored | undefined;
    do {
      const input = { ...this.queryInput({ ...q, startKey }), Select: 'COUNT' as const };
      const out = await this.call(() => this.client.send(new QueryCommand(input)));
      count += out.Count ?? 0;
      startKey = out.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  /** The items under `keys` that exist, by `pk` (eventually consistent, 100 keys per call). */
  async batchGet<T extends ItemKey>(keys: readonly ItemKey[]): Promise<Map<string, T>> {
    const found = new Map<string, T>();
    for (const batch of chunks(keys, 100)) {
      await this.untilProcessed<ItemKey>(batch, async (Keys) => {
        const request = { [this.table]: { Keys: [...Keys] } };
        const out = await this.call(() => this.client.send(new BatchGetCommand({ RequestItems: request })));
        for (const item of out.Responses?.[this.table] ?? []) found.set(String(item.pk), item as T);
        return (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as ItemKey[];
      });
    }
    return found;
  }

  /** Puts items, 25 per call. BatchWriteItem takes no conditions: `_why` says why none is needed. */
  batchPut(items: readonly object[], _why: Unconditional): Promise<void> {
    return this.batchWrite(items.map((Item) => ({ PutRequest: { Item } })));
  }

  /** Deletes items by key, 25 per call. BatchWriteItem takes no conditions: `_why` says why none is needed. */
  batchDelete(keys: readonly ItemKey[], _why: Unconditional): Promise<void> {
    return this.batchWrite(keys.map((Key) => ({ DeleteRequest: { Key } })));
  }

  private async batchWrite(requests: readonly BatchRequest[]): Promise<void> {
    for (const batch of chunks(requests, 25)) {
      await this.untilProcessed(batch, async (writes) => {
        const request = { [this.table]: [...writes] };
        const out = await this.call(() => this.client.send(new BatchWriteCommand({ RequestItems: request })));
        return (out.UnprocessedItems?.[this.table] ?? []) as BatchRequest[];
      });
    }
  }

  /** Sends `first`, then what each call left unprocessed, under the `UNPROCESSED` policy. */
  private async untilProcessed<R>(
    first: readonly R[],
    send: (requests: readonly R[]) => Promise<readonly R[]>,
  ): Promise<void> {
    let pending = first;
    for (let attempt = 0; pending.length; attempt++) {
      if (attempt === UNPROCESSED.tries) throw new StoreBusyError(1);
      if (attempt) await sleep(retryDelayMs(attempt - 1, UNPROCESSED));
      pending = await send(pending);
    }
  }

  /** Sends a conditional write, turning a failed condition into a refusal with the item it saw. */
  private async write<T, O>(send: () => Promise<O>, written: (out: O) => T): Promise<Written<T>> {
    try {
      return { ok: true, item: written(await this.call(send)) };
    } catch (error) {
      if (nameOf(error) !== 'ConditionalCheckFailedException') throw error;
      const raw = (error as { Item?: Record<string, never> }).Item;
      return { ok: false, old: raw ? (unmarshall(raw) as T) : undefined };
    }
  }

  /** Runs a DynamoDB call, turning throttling and transient faults into `StoreBusyError`. */
  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (isBusy(error)) throw new StoreBusyError(1, { cause: error });
      throw error;
    }
  }

  private queryInput(q: KeyQuery): QueryCommandInput {
    const keys = q.index === undefined ? { pk: 'pk', sk: 'sk' } : INDEX[q.index];
    const names: Record<string, string> = { '#qpk': keys.pk };
    const values: Record<string, unknown> = { ':qpk': q.partition };
    let expression = '#qpk = :qpk';
    if (q.range) {
      names['#qsk'] = keys.sk;
      expression += ` AND ${rangeExpression(q.range, values)}`;
    }
    const projection = q.attributes?.map((name, i) => {
      names[`#qa${i}`] = name;
      return `#qa${i}`;
    });
    return {
      TableName: this.table,
      ...(q.index === undefined ? {} : { IndexName: INDEX[q.index].name }),
      KeyConditionExpression: expression,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
      ...(projection ? { ProjectionExpression: projection.join(', ') } : {}),
      ...(q.descending ? { ScanIndexForward: false } : {}),
      ...(q.limit === undefined ? {} : { Limit: q.limit }),
      ...(q.startKey ? { ExclusiveStartKey: q.startKey } : {}),
    };
  }
}

type BatchRequest = { PutRequest: { Item: object } } | { DeleteRequest: { Key: ItemKey } };

function rangeExpression(range: KeyRange, values: Record<string, unknown>): string {
  if ('below' in range) return oneBound(values, range.below, '#qsk < :qsk');
  if ('atMost' in range) return oneBound(values, range.atMost, '#qsk <= :qsk');
  if ('atLeast' in range) return oneBound(values, range.atLeast, '#qsk >= :qsk');
  if ('prefix' in range) return oneBound(values, range.prefix, 'begins_with(#qsk, :qsk)');
  [values[':qfrom'], values[':qto']] = range.between;
  return '#qsk BETWEEN :qfrom AND :qto';
}

/** A range with one bound: `condition` compares the sort key with `value`, bound as `:qsk`. */
function oneBound(values: Record<string, unknown>, value: string, condition: string): string {
  values[':qsk'] = value;
  return condition;
}

const nameOf = (error: unknown): string | undefined => (error as { name?: string } | undefined)?.name;

/**
 * Refusals of a write for the capacity of a partition (the table's or an index's), not the
 * account's: as an error, and as a transaction's cancellation reason.
 * https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
const THROTTLED = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException']);
const THROTTLED_IN_TRANSACTION = new Set(['ProvisionedThroughputExceeded', 'ThrottlingError']);

/** Whether a call failed, after the SDK's retries, because DynamoDB throttled it. */
export function wasThrottled(error: unknown): boolean {
  if (!(error instanceof StoreBusyError)) return false;
  const cause = error.cause as { name?: string; CancellationReasons?: { Code?: string }[] } | undefined;
  if (THROTTLED.has(nameOf(cause) ?? '')) return true;
  return (cause?.CancellationReasons ?? []).some((r) => THROTTLED_IN_TRANSACTION.has(r.Code ?? ''));
}

function isBusy(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (!e || typeof e !== 'object') return false;
  if (e.name && BUSY.has(e.name)) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
