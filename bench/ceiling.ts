/**
 * The per-queue throughput ceiling, from measured writes: how many jobs per second one queue takes
 * before its hottest partition reaches DynamoDB's 1,000 write units per second per partition.
 *
 * Every write's `ConsumedCapacity` (per index) is attributed to the partition it lands in: the job
 * item's own `pk` for the table, and for an index the queue shard the job belongs to
 * (`<shard>#<queue>`, or `m#<shard>#<queue>` for a managed job's `ready` entry; functions/jobs/keys.ts).
 * A job's shard never changes, so each of its index entries, in or out, lands in the same partition.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
 */
import { managedShardPk, shardPk } from '../functions/jobs/keys.ts';
import { billedWru, type JobRef, type Measurement, measurePath, type PathSpec } from './economy.ts';
import type { Bench } from './section.ts';
import { round, table } from './stats.ts';

/** DynamoDB's write limit for one partition (a table's or an index's). */
export const PARTITION_WCU_PER_SECOND = 1_000;
/** The default per-table quota of an on-demand table (adjustable). */
export const TABLE_WRU_PER_SECOND = 40_000;

/** docs/design.md, "Per-queue ceiling", in its own words. */
const CLAIM =
  'Each job writes its `ready` shard twice (in and out) and its `leases` shard twice, so one shard ' +
  'sustains about **500 jobs/s**. A queue sustains about **500 × shards jobs/s**: 1,000 jobs/s with ' +
  'the 2 shards a queue starts with, 8,000 once it has grown to the default maximum of 16, and 500 jobs/s for a `strict` queue.';
const CLAIMED_PER_SHARD = 500;
const CLAIMED_PER_TABLE = 5_000;

/** The index partition a job's entry in `index` lands in. */
function partitionOf(index: string, ref: JobRef): string {
  return index === 'ready' && ref.managed
    ? managedShardPk(ref.shard, ref.queue)
    : shardPk(ref.shard, ref.queue);
}

export interface Ceiling {
  readonly label: string;
  readonly shards: number;
  readonly jobs: number;
  /** Write units per job landing in its shard's partition of each index. */
  readonly wcuPerJob: Record<string, number>;
  /** Write units per job on its own item: a partition of its own (hashed `pk`), never a shared one. */
  readonly tableWcuPerJob: number;
  /** The index (or indexes, on a tie) whose shard partition takes the most units per job. */
  readonly hottest: string[];
  readonly hottestWcuPerJob: number;
  readonly jobsPerSecondPerShard: number;
  readonly jobsPerSecond: number;
  readonly wruPerJob: number;
  /** How the jobs spread over the shards (a hash of the id). */
  readonly jobsPerShard: number[];
}

/**
 * Write units per job in each partition, per index: the units an index partition took divided by
 * the jobs of its shard, so an uneven hash spread of a small sample does not skew the figure.
 */
export function ceilingOf(m: Measurement): Ceiling {
  const jobsPerShard = Array.from({ length: m.shards }, () => 0);
  for (const ref of m.refs.values()) jobsPerShard[ref.shard] = (jobsPerShard[ref.shard] ?? 0) + 1;
  /** `index` → partition → units. */
  const units = new Map<string, Map<string, number>>();
  const add = (index: string, partition: string, wcu: number) => {
    const byPartition = units.get(index) ?? new Map<string, number>();
    byPartition.set(partition, (byPartition.get(partition) ?? 0) + wcu);
    units.set(index, byPartition);
  };
  let wru = 0;
  let tableUnits = 0;
  for (const call of m.calls) {
    const refs = (call.pks ?? []).map((pk) => m.refs.get(pk)).filter((r): r is JobRef => r !== undefined);
    if (!call.wcu || !refs.length) continue;
    wru += billedWru(call);
    const indexUnits = Object.values(call.indexes ?? {}).reduce((a, b) => a + b, 0);
    tableUnits += call.wcu - indexUnits;
    for (const ref of refs) {
      for (const [index, wcu] of Object.entries(call.indexes ?? {})) {
        add(index, partitionOf(index, ref), wcu / refs.length);
      }
    }
  }
  const wcuPerJob: Record<string, number> = {};
  for (const [index, byPartition] of units) {
    const perJob = [...byPartition].map(([partition, wcu]) => {
      const shard = Number(partition.replace(/^m#/, '').split('#')[0]);
      return wcu / Math.max(1, jobsPerShard[shard] ?? 0);
    });
    wcuPerJob[index] = round(Math.max(...perJob), 3);
  }
  const most = Math.max(0, ...Object.values(wcuPerJob));
  const hottest = Object.keys(wcuPerJob).filter((index) => wcuPerJob[index] === most);
  const perShard = most > 0 ? PARTITION_WCU_PER_SECOND / most : Number.POSITIVE_INFINITY;
  return {
    label: m.spec.label,
    shards: m.shards,
    jobs: m.spec.jobs,
    wcuPerJob,
    tableWcuPerJob: round(tableUnits / m.spec.jobs, 3),
    hottest,
    hottestWcuPerJob: most,
    jobsPerSecondPerShard: round(perShard),
    jobsPerSecond: round(perShard * m.shards),
    wruPerJob: round(wru / m.spec.jobs, 3),
    jobsPerShard,
  };
}

const verdict = (measured: number, claimed: number): string => {
  const off = measured / claimed - 1;
  return Math.abs(off) <= 0.05 ? 'agrees' : `${off > 0 ? '+' : ''}${Math.round(off * 100)} %`;
};

export const bench: Bench = async (ctx) => {
  const specs: PathSpec[] = [
    { kind: 'single', label: 'pull, `priority` (default)', jobs: ctx.quick ? 20 : 100 },
    { kind: 'single', label: 'pull, `strict`', jobs: ctx.quick ? 10 : 50, strict: true },
    { kind: 'lambda', label: 'managed', jobs: ctx.quick ? 5 : 20 },
  ];
  const ceilings: Ceiling[] = [];
  for (const spec of specs) {
    const ceiling = ceilingOf(await measurePath(ctx, spec));
    ctx.log(`ceiling: ${spec.label}: ${ceiling.jobsPerSecond} jobs/s (${ceiling.hottest.join(', ')})`);
    ceilings.push(ceiling);
  }

  const indexes = [...new Set(ceilings.flatMap((c) => Object.keys(c.wcuPerJob)))].sort();
  const perIndex = table(
    ['WCU per job, in its partition', ...ceilings.map((c) => c.label)],
    [
      ...indexes.map((index) => [
        `\`${index}\` index, the job’s shard`,
        ...ceilings.map((c) => (c.wcuPerJob[index] ?? 0).toFixed(2)),
      ]),
      ['table, the job’s own item', ...ceilings.map((c) => c.tableWcuPerJob.toFixed(2))],
    ],
  );
  const queues = table(
    [
      'queue',
      'shards',
      'hottest partition',
      'jobs/s per shard',
      'jobs/s per queue',
      'design says',
      'verdict',
    ],
    ceilings.map((c) => {
      const claimed = CLAIMED_PER_SHARD * c.shards;
      return [
        c.label,
        c.shards,
        `${c.hottest.map((index) => `\`${index}\``).join(', ')}: ${c.hottestWcuPerJob.toFixed(2)} WCU/job`,
        c.jobsPerSecondPerShard,
        c.jobsPerSecond,
        claimed,
        verdict(c.jobsPerSecond, claimed),
      ];
    }),
  );
  const pull = ceilings[0];
  const perTable = pull ? round(TABLE_WRU_PER_SECOND / pull.wruPerJob) : Number.NaN;
  const markdown = [
    `> ${CLAIM}`,
    '>',
    '> — docs/design.md, "Per-queue ceiling"',
    '',
    queues,
    '',
    perIndex,
    '',
    `Per table: ${TABLE_WRU_PER_SECOND.toLocaleString('en-US')} WRU/s (the default on-demand quota) at`,
    `${pull?.wruPerJob} WRU per pull job is **${perTable.toLocaleString('en-US')} jobs/s** across all queues; the design says`,
    `about ${CLAIMED_PER_TABLE.toLocaleString('en-US')} (${verdict(perTable, CLAIMED_PER_TABLE)}).`,
    '',
    '**How measured.** Jobs run enqueue → claim → complete on fresh queues (one at a time, no lost',
    'races), with DynamoDB’s `ConsumedCapacity` per index recorded for every write (the `economy`',
    'hook). Each index write is attributed to the shard partition of its job, and divided by the jobs',
    'of that shard; the hottest partition at 1,000 WCU/s gives the shard’s ceiling, and the shards of a',
    'queue, evenly filled by the id hash, multiply it. Job items are hashed over the key space, so',
    'the table partition is never the hot one. Heartbeats (1 WRU on the job item only) and run logs',
    '(the job’s partition) do not touch the shard partitions.',
  ].join('\n');
  return [
    {
      id: 'ceiling',
      title: 'Per-queue ceiling',
      parameters: {
        paths: specs,
        partitionWcuPerSecond: PARTITION_WCU_PER_SECOND,
        tableWruPerSecond: TABLE_WRU_PER_SECOND,
      },
      results: { queues: ceilings, jobsPerSecondPerTable: perTable },
      markdown,
    },
  ];
};
