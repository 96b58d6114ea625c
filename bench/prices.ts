/**
 * The list prices every cost figure in the benchmarks uses: us-east-1, on demand, no free tier,
 * first pricing tier. One table, so BENCHMARKS.md and the README's "Costs" quote the same numbers.
 * Check the sources before a release: AWS changes prices (DynamoDB on demand halved in Nov 2024).
 */

export const PRICE_REGION = 'us-east-1';

/** A list price: `usd` per one `unit`, and the page that publishes it. */
export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
}

export const PRICES = {
  /** HTTP API (not REST API), first 300 million requests a month. */
  apiRequests: {
    usd: 1.0,
    unit: 'million HTTP API requests',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  lambdaRequests: {
    usd: 0.2,
    unit: 'million Lambda requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  /** Arm (Graviton), first 7.5 billion GB-seconds a month. */
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'GB-second of Lambda on arm64',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  dynamoWrites: {
    usd: 0.625,
    unit: 'million DynamoDB on-demand write request units',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoReads: {
    usd: 0.125,
    unit: 'million DynamoDB on-demand read request units',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  /** Standard queues; each 64 KB chunk of a request is billed as one request. */
  sqsRequests: {
    usd: 0.4,
    unit: 'million SQS requests',
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
  /** Standard log class, first 10 TB a month (Lambda's logs are vended logs at the same first tier). */
  logsIngestion: {
    usd: 0.5,
    unit: 'GB of CloudWatch Logs ingested',
    source: 'https://aws.amazon.com/cloudwatch/pricing/',
  },
  fargateArmVcpuHour: {
    usd: 0.03238,
    unit: 'vCPU-hour of Fargate on Linux/ARM',
    source: 'https://aws.amazon.com/fargate/pricing/',
  },
  fargateArmGbHour: {
    usd: 0.00356,
    unit: 'GB-hour of Fargate on Linux/ARM',
    source: 'https://aws.amazon.com/fargate/pricing/',
  },
  stepFunctionsTransitions: {
    usd: 25,
    unit: 'million Step Functions Standard state transitions',
    source: 'https://aws.amazon.com/step-functions/pricing/',
  },
} as const satisfies Record<string, Price>;

/** A GB as AWS bills it. */
export const GB = 2 ** 30;

/** Fargate bills per second from the image pull to the task's end, with a one-minute minimum. */
export const FARGATE_MINIMUM_SECONDS = 60;

/** The price list as a markdown table, for a report's "how measured". */
export function priceTable(): string {
  const rows = Object.values(PRICES).map((p) => `| $${p.usd} | ${p.unit} | ${p.source} |`);
  return ['| price | per | source |', '| ---: | --- | --- |', ...rows].join('\n');
}
