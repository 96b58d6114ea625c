/**
 * The dispatch queue: SQS messages that say "managed job (queue, id) may be runnable". They are
 * hints, never truth: the dispatcher's claim is a conditional write, so a duplicate, late or stale
 * message changes nothing, and a lost one is re-sent by the maintenance sweep from DynamoDB.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import * as z from 'zod';

/** SQS delays a message by at most 15 minutes; later jobs are released by the sweep when due. */
export const MAX_DELAY_SECONDS = 900;

/**
 * A hint: "managed job (queue, id) may be runnable". A job reference, never the payload. Version 1;
 * a later version adds a member to the union beside it, so old and new dispatchers can read what
 * they understand.
 */
const hint = z.object({
  v: z.literal(1),
  kind: z.literal('hint'),
  queue: z.string().min(1),
  id: z.string().min(1),
});

/** A hint sent before messages carried a version and a kind: the same job reference. */
const unversionedHint = z
  .strictObject({ queue: z.string().min(1), id: z.string().min(1) })
  .transform(({ queue, id }) => ({ v: 1 as const, kind: 'hint' as const, queue, id }));

/** Every message the dispatch queue carries, by `kind`. */
export const dispatchMessage = z.union([z.discriminatedUnion('kind', [hint]), unversionedHint]);
export type DispatchMessage = z.output<typeof dispatchMessage>;

/** The body of a hint for `job`. */
export const hintBody = (job: { readonly queue: string; readonly id: string }): string =>
  JSON.stringify({ v: 1, kind: 'hint', queue: job.queue, id: job.id } satisfies z.input<typeof hint>);

/** Seconds until `runAt`, as a `DelaySeconds` SQS accepts. */
export function delaySeconds(runAt: number, now: number): number {
  return Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil((runAt - now) / 1000)));
}

export class DispatchQueue {
  constructor(
    readonly client: Pick<SQSClient, 'send'>,
    readonly queueUrl: string,
    readonly deadLetterUrl: string,
  ) {}

  /** Sends the hint for a job, delayed until its `run_at` (up to 15 minutes ahead). */
  async dispatch(
    job: { readonly queue: string; readonly id: string; readonly run_at: number },
    now: number = Date.now(),
  ): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: hintBody(job),
        DelaySeconds: delaySeconds(job.run_at, now),
      }),
    );
  }
}

export interface DispatchQueueSettings {
  readonly name: string;
  /** Receives before SQS moves a message to the dead-letter queue. @default 5 */
  readonly maxReceiveCount?: number;
  /** Seconds a received message stays hidden. @default 60 */
  readonly visibilityTimeoutSeconds?: number;
}

/**
 * Creates the dispatch queue and its dead-letter queue (the local stack's equivalent of the CDK
 * `DispatchQueue` construct): 14-day retention on the DLQ, redrive after `maxReceiveCount`.
 */
export async function ensureDispatchQueues(
  client: SQSClient,
  settings: DispatchQueueSettings,
): Promise<{ queueUrl: string; deadLetterUrl: string }> {
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: `${settings.name}-dlq`,
      Attributes: { MessageRetentionPeriod: String(14 * 86_400) },
    }),
  );
  const deadLetterUrl = dlq.QueueUrl as string;
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }),
  );
  const queue = await client.send(
    new CreateQueueCommand({
      QueueName: settings.name,
      Attributes: {
        VisibilityTimeout: String(settings.visibilityTimeoutSeconds ?? 60),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: Attributes?.QueueArn,
          maxReceiveCount: settings.maxReceiveCount ?? 5,
        }),
      },
    }),
  );
  return { queueUrl: queue.QueueUrl as string, deadLetterUrl };
}
