/**
 * The dead-letter consumer, run by the maintenance sweep: it reads the SQS dead-letter queue
 * without taking messages off it, and marks the job of every dispatch message that SQS moved there
 * (a poison message, repeated dispatcher crashes) dead, with a reason.
 *
 * Messages stay on the queue on purpose: they are what an operator redrives (console or
 * `StartMessageMoveTask`), and what the "DLQ not empty" alarm counts (visible plus in flight). So
 * this receives without deleting, hiding each message for a short while only so one scan walks the
 * whole queue, instead of consuming like a Lambda event source would. It is idempotent: a job that
 * is already dead is left alone. Relay's own records of dead jobs (they carry a
 * `reason`) are skipped. When a message is redriven, the dispatcher requeues its dead job.
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { describeError, log } from '../core/log.ts';
import type { JobStore } from '../jobs/store.ts';
import { dispatchMessage } from './queue.ts';

/** The `last_error` of a job this consumer made dead: the dispatcher revives such a job on redrive. */
export const DEAD_LETTERED = 'dispatch failed repeatedly: the message was moved to the dead-letter queue';

export interface DeadLetterScan {
  /** Messages read. */
  readonly seen: number;
  /** Jobs this scan made dead. */
  readonly marked: number;
}

export async function markDeadLettered(
  store: JobStore,
  sqs: Pick<SQSClient, 'send'>,
  deadLetterUrl: string,
  options: { batches?: number } = {},
): Promise<DeadLetterScan> {
  const seenIds = new Set<string>();
  let marked = 0;
  for (let batch = 0; batch < (options.batches ?? 10); batch++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterUrl,
        MaxNumberOfMessages: 10,
        // Not consumed: hidden just long enough for the rest of this scan, then visible again.
        VisibilityTimeout: 5,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['ApproximateReceiveCount'],
      }),
    );
    if (!Messages.length) break;
    for (const message of Messages) {
      if (seenIds.has(message.MessageId ?? '')) continue;
      seenIds.add(message.MessageId ?? '');
      let body: unknown;
      try {
        body = JSON.parse(message.Body ?? '');
      } catch {
        log('warn', 'dead-letter message is not a dispatch message', { message_id: message.MessageId });
        continue;
      }
      const parsed = dispatchMessage.safeParse(body);
      if (!parsed.success) continue;
      if (typeof (body as { reason?: unknown }).reason === 'string') continue; // Relay's own record
      try {
        const dead = await store.markDead(parsed.data.queue, parsed.data.id, DEAD_LETTERED);
        if (dead) marked++;
      } catch (error) {
        log('warn', 'could not mark a dead-lettered job dead', { ...parsed.data, ...describeError(error) });
      }
    }
  }
  return { seen: seenIds.size, marked };
}
