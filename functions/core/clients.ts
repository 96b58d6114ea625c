import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/**
 * Credentials for the embedded emulators: they accept any key, and static ones stop the SDK from
 * walking the default provider chain (and the EC2 metadata endpoint) on a machine with no AWS access.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'relaylocal', secretAccessKey: 'relaylocal' } as const;
export const LOCAL_REGION = 'us-east-1';

/**
 * SDK client settings for an endpoint override: static credentials and a region when pointed at a
 * local emulator; the SDK's defaults (credential chain, region from the environment) otherwise.
 */
export function awsClientConfig(
  endpoint?: string,
): Pick<DynamoDBClientConfig, 'endpoint' | 'region' | 'credentials'> {
  if (!endpoint) return {};
  return { endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
}

/** A document client that stores `undefined` as absent and keeps numbers as JavaScript numbers. */
export function documentClient(endpoint?: string): DynamoDBDocumentClient {
  return DynamoDBDocumentClient.from(new DynamoDBClient(awsClientConfig(endpoint)), {
    marshallOptions: { removeUndefinedValues: true },
  });
}
