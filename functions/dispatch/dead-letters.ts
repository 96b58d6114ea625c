/**
 * The dead-letter reconciler, run by every maintenance pass: it keeps the SQS dead-letter queue a
 * mirror of the jobs that are dead because SQS gave up on their dispatch, with DynamoDB as the truth.
 *
 * Only SQS puts messages there: a hint the dispatcher failed on `maxReceiveCount` times (a poison
 * message, repeated dispatcher crashes). The first pass that reads one makes its live job dead and
 * records the message on the job (`dead_message_id`). The message then stays for as long as the job
 * is dead because of it: it is what an operator redrives (console or `StartMessageMoveTask`; the
 * dispatcher then revives the job) and what the "DLQ not empty" alarm counts. Once the job is
 * requeued, deleted, or ends otherwise, the next pass deletes the message, so the queue and its
 * alarm clear without anyone touching SQS.
 *
 * Messages are received with a short visibility timeout so one pass walks the whole queue; those
 * it keeps are made visible again at the end of the pass.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { describeError, log } from '../core/log.ts';
import { type Job, LIVE } from '../jobs/model.ts';
import type { JobStore } from '../jobs/store.ts';
import { type DispatchMessage, dispatchMessage } from './queue.ts';

/** The `last_error` of a job made dead by a dead-lettered hint (its `dead_reason` is `dispatch_failed`). */
export const DEAD_LETTERED = 'dispatch failed repeatedly: the message was moved to the dead-letter queue';

/** What a pass does with one dead-letter message, given its job as DynamoDB has it now. */
export type DeadLetterVerdict =
  /** Its job is live and this message never made it dead: make the job dead, keep the message. */
  | 'mark'
  /** It mirrors a job that is dead because of it, or cannot be read: leave it on the queue. */
  | 'keep'
  /** Its job was dealt with (requeued, deleted, ended otherwise), or it named another job: remove it. */
  | 'delete';

/**
 * Decides one message's fate. `sentAt` is the message's `SentTimestamp`, which SQS keeps when it
 * moves a message to the dead-letter queue.
 */
export function verdictOf(job: Job | undefined, messageId: string, sentAt?: number): DeadLetterVerdict {
  // Unknown, deleted or past retention, or a pull job (hints name only managed jobs).
  if (job?.type !== 'SHELL') return 'delete';
  const diedOfIt = job.dead_message_id === messageId;
  if (job.status === 'dead') return diedOfIt && job.dead_reason === 'dispatch_failed' ? 'keep' : 'delete';
  if (!LIVE.includes(job.status)) return 'delete'; // completed, cancelled
  // Revived (requeued, retried) after this message made it dead.
  if (diedOfIt) return 'delete';
  // Sent before this job existed: it named an earlier job with the same id.
  if (sentAt !== undefined && sentAt < job.created_at) return 'delete';
  return 'mark';
}

export interface DeadLetterScan {
  /** Messages read. */
  readonly seen: number;
  /** Jobs this pass made dead. */
  readonly marked: number;
  /** Messages this pass deleted. */
  readonly deleted: number;
}

/** Receives, in one pass, at most this many batches of 10 messages. */
const BATCHES = 10;

/**
 * Seconds a received message stays hidden: long enough for the rest of the pass, which makes the
 * kept ones visible again when it ends. A pass that dies midway leaves them hidden this long only.
 */
const SCAN_VISIBILITY_SECONDS = 30;

export async function reconcileDeadLetters(
  store: JobStore,
  sqs: Pick<SQSClient, 'send'>,
  deadLetterUrl: string,
  options: { batches?: number } = {},
): Promise<DeadLetterScan> {
  const seenIds = new Set<string>();
  const kept: Message[] = [];
  let marked = 0;
  let deleted = 0;
  for (let batch = 0; batch < (options.batches ?? BATCHES); batch++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterUrl,
        MaxNumberOfMessages: 10,
        VisibilityTimeout: SCAN_VISIBILITY_SECONDS,
        WaitTimeSeconds: 0,
        MessageSystemAttributeNames: ['SentTimestamp'],
      }),
    );
    if (!Messages.length) break;
    const fresh = Messages.filter((m) => {
      const first = !seenIds.has(m.MessageId ?? '');
      seenIds.add(m.MessageId ?? '');
      return first;
    });
    const outcomes = await Promise.all(fresh.map((message) => reconcileOne(store, message)));
    const toDelete = fresh.filter((_, i) => outcomes[i] === 'delete');
    kept.push(...fresh.filter((_, i) => outcomes[i] !== 'delete'));
    marked += outcomes.filter((o) => o === 'mark').length;
    deleted += await deleteMessages(sqs, deadLetterUrl, toDelete);
  }
  await showAgain(sqs, deadLetterUrl, kept);
  return { seen: seenIds.size, marked, deleted };
}

/** Reconciles one message; returns `mark` only when it made the job dead. Faults keep the message. */
async function reconcileOne(store: JobStore, message: Message): Promise<DeadLetterVerdict> {
  const ref = parse(message);
  if (!ref) {
    // A poison message of another kind: it stays, and keeps the alarm on, until someone looks.
    log('warn', 'dead-letter message is not a dispatch message', { message_id: message.MessageId });
    return 'keep';
  }
  const messageId = String(message.MessageId);
  const sent = Number(message.Attributes?.SentTimestamp);
  try {
    const job = await store.get(ref.queue, ref.id);
    const verdict = verdictOf(job, messageId, Number.isFinite(sent) ? sent : undefined);
    if (verdict !== 'mark') return verdict;
    const dead = await store.markDead(ref.queue, ref.id, DEAD_LETTERED, messageId);
    if (dead)
      log('warn', 'dispatch was dead-lettered: job is dead', { ...logRef(ref), message_id: messageId });
    // Not made dead: the job changed since it was read. The next pass decides on what it is then.
    return dead ? 'mark' : 'keep';
  } catch (error) {
    log('warn', 'could not reconcile a dead-letter message', {
      ...logRef(ref),
      message_id: messageId,
      ...describeError(error),
    });
    return 'keep';
  }
}

function parse(message: Message): DispatchMessage | undefined {
  try {
    const parsed = dispatchMessage.safeParse(JSON.parse(message.Body ?? ''));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const logRef = (ref: DispatchMessage) => ({ queue: ref.queue, job_id: ref.id });

/** Deletes the messages (one batch of at most 10); returns how many SQS deleted. */
async function deleteMessages(
  sqs: Pick<SQSClient, 'send'>,
  queueUrl: string,
  messages: readonly Message[],
): Promise<number> {
  if (!messages.length) return 0;
  const { Successful = [], Failed = [] } = await sqs.send(
    new DeleteMessageBatchCommand({
      QueueUrl: queueUrl,
      Entries: messages.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle })),
    }),
  );
  // A failed delete leaves the message for the next pass, which decides again.
  for (const failure of Failed) log('warn', 'could not delete a dead-letter message', { ...failure });
  return Successful.length;
}

/** Makes kept messages visible again at once, for a redrive or a console poll right after the pass. */
async function showAgain(sqs: Pick<SQSClient, 'send'>, queueUrl: string, messages: readonly Message[]) {
  for (let at = 0; at < messages.length; at += 10) {
    const chunk = messages.slice(at, at + 10);
    try {
      const { Failed = [] } = await sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: queueUrl,
          Entries: chunk.map((m, i) => ({
            Id: String(i),
            ReceiptHandle: m.ReceiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
      for (const failure of Failed) log('debug', 'dead-letter message stays hidden a while', { ...failure });
    } catch (error) {
      // They reappear when the scan's visibility timeout ends.
      log('warn', 'could not make dead-letter messages visible again', describeError(error));
    }
  }
}
