/**
 * AWS call accounting for benchmarks: which calls a process makes and the DynamoDB capacity each
 * consumes, read from the `ConsumedCapacity` that DynamoDB returns when asked for it.
 *
 * `capacityHook` reports every call to a callback: the bench's process holds the whole local stack,
 * managed runs included.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html
 */
import type { ClientCall, ClientHook } from '../../functions/core/clients.ts';

/** One AWS call and what it consumed. */
export interface CallRecord {
  readonly service: string;
  readonly operation: string;
  /** Write and read units consumed, table and indexes together, as DynamoDB reported them. */
  readonly wcu: number;
  readonly rcu: number;
  /** Units per global secondary index, when DynamoDB reported any. */
  readonly indexes?: Record<string, number>;
  /** Partition keys of the items the call names (one for item operations, several for batches). */
  readonly pks?: string[];
  /** Whether a `ConsistentRead` was asked for (it doubles a read's units). */
  readonly consistent?: boolean;
  /** Items a read returned, or messages a receive returned. */
  readonly returned?: number;
  /** The error's name when the call failed. */
  readonly error?: string;
  /** Epoch milliseconds at the start of the call, and its duration. */
  readonly at: number;
  readonly ms: number;
}

const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);
const READS = new Set(['GetItem', 'Query', 'Scan', 'BatchGetItem', 'TransactGetItems']);

interface Capacity {
  readonly CapacityUnits?: number;
  readonly GlobalSecondaryIndexes?: Record<string, { readonly CapacityUnits?: number }>;
}

type Attr = string | { readonly S?: string } | undefined;
type Keyed = { readonly Key?: Record<string, Attr>; readonly Item?: Record<string, Attr> };

/** A key attribute as the document client writes it (a string) or the raw client does (`{ S }`). */
const text = (value: Attr): string | undefined => (typeof value === 'string' ? value : value?.S);

/** The `pk` of every item the input names: `Key`, `Item`, transaction parts, batch requests. */
function partitionKeys(input: Record<string, unknown>): string[] {
  const parts: Keyed[] = [input as Keyed];
  for (const item of (input.TransactItems ?? []) as Record<string, Keyed>[]) {
    parts.push(...Object.values(item));
  }
  for (const requests of Object.values((input.RequestItems ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(requests)) {
      for (const r of requests as { PutRequest?: Keyed; DeleteRequest?: Keyed }[]) {
        parts.push(r.PutRequest ?? r.DeleteRequest ?? {});
      }
    } else {
      for (const Key of (requests as { Keys?: Record<string, Attr>[] }).Keys ?? []) parts.push({ Key });
    }
  }
  return parts.flatMap((p) => {
    const pk = text(p.Key?.pk) ?? text(p.Item?.pk);
    return pk === undefined ? [] : [pk];
  });
}

/** The record of a finished call; `output` is undefined when it failed. */
function toRecord(call: ClientCall, output: unknown, error: unknown, at: number): CallRecord {
  const reported = (output as { ConsumedCapacity?: Capacity | Capacity[] } | undefined)?.ConsumedCapacity;
  const capacities = reported === undefined ? [] : Array.isArray(reported) ? reported : [reported];
  let units = 0;
  const indexes: Record<string, number> = {};
  for (const c of capacities) {
    units += c.CapacityUnits ?? 0;
    for (const [name, gsi] of Object.entries(c.GlobalSecondaryIndexes ?? {})) {
      indexes[name] = (indexes[name] ?? 0) + (gsi.CapacityUnits ?? 0);
    }
  }
  const pks = call.service === 'DynamoDB' ? partitionKeys(call.input) : [];
  const got = output as { Items?: unknown[]; Messages?: unknown[] } | undefined;
  const returned = got?.Items?.length ?? got?.Messages?.length;
  return {
    service: call.service,
    operation: call.operation,
    wcu: WRITES.has(call.operation) ? units : 0,
    rcu: READS.has(call.operation) ? units : 0,
    ...(Object.keys(indexes).length ? { indexes } : {}),
    ...(pks.length ? { pks } : {}),
    ...(call.input.ConsistentRead === true ? { consistent: true } : {}),
    ...(returned === undefined ? {} : { returned }),
    ...(error === undefined ? {} : { error: (error as { name?: string }).name ?? 'Error' }),
    at,
    ms: Date.now() - at,
  };
}

/**
 * A hook that asks DynamoDB for the capacity each call consumed (per index: `INDEXES`) and hands a
 * record of every call, failed ones too, to `onCall`.
 */
export function capacityHook(onCall: (record: CallRecord) => void): ClientHook {
  return async (call, next) => {
    if (call.service === 'DynamoDB' && (WRITES.has(call.operation) || READS.has(call.operation))) {
      call.input.ReturnConsumedCapacity ??= 'INDEXES';
    }
    const at = Date.now();
    try {
      const output = await next();
      onCall(toRecord(call, output, undefined, at));
      return output;
    } catch (error) {
      onCall(toRecord(call, undefined, error, at));
      throw error;
    }
  };
}
