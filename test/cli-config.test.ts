import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './support/cli.ts';
import { type StubServer, startStubServer } from './support/stub-server.ts';

const XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

/** A `DescribeStacks` answer for one stack, in CloudFormation's Query protocol XML. */
function describeStacksXml(name: string, status: string, outputs: Record<string, string>): string {
  const members = Object.entries(outputs)
    .map(
      ([key, value]) => `<member><OutputKey>${key}</OutputKey><OutputValue>${value}</OutputValue></member>`,
    )
    .join('');
  return `<DescribeStacksResponse xmlns="${XMLNS}"><DescribeStacksResult><Stacks><member>
    <StackName>${name}</StackName>
    <StackId>arn:aws:cloudformation:eu-west-1:123456789012:stack/${name}/${randomUUID()}</StackId>
    <CreationTime>2030-01-01T00:00:00Z</CreationTime>
    <StackStatus>${status}</StackStatus>
    ${members ? `<Outputs>${members}</Outputs>` : ''}
  </member></Stacks></DescribeStacksResult>
  <ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></DescribeStacksResponse>`;
}

/** CloudFormation's answer for a stack name it does not know: a ValidationError, status 400. */
const stackMissingXml = (name: string) =>
  `<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>ValidationError</Code>
    <Message>Stack with id ${name} does not exist</Message></Error>
    <RequestId>${randomUUID()}</RequestId></ErrorResponse>`;

const QUEUES = {
  queues: [
    {
      name: 'emails',
      ordering: 'priority',
      shards: 4,
      pending: 2,
      scheduled: 0,
      running: 1,
      failed: 0,
      dead: 0,
    },
  ],
};

let cloudformation: StubServer;
/** Stands in for the deployed Relay API that the stack's `ApiUrl` names. */
let relay: StubServer;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'relay-config-'));
  relay = await startStubServer(() => ({ status: 200, body: JSON.stringify(QUEUES) }));
  cloudformation = await startStubServer((request) => {
    const stackName = new URLSearchParams(request.body).get('StackName') ?? '';
    const xml = (status: number, body: string) => ({ status, headers: { 'content-type': 'text/xml' }, body });
    if (stackName === 'RelayStack') {
      return xml(
        200,
        describeStacksXml(stackName, 'CREATE_COMPLETE', { ApiUrl: `${relay.url}/`, Other: 'x' }),
      );
    }
    if (stackName === 'HalfBuilt') return xml(200, describeStacksXml(stackName, 'CREATE_IN_PROGRESS', {}));
    return xml(400, stackMissingXml(stackName));
  });
});

afterAll(async () => {
  await Promise.all([cloudformation.close(), relay.close()]);
  await rm(dir, { recursive: true, force: true });
});

/** A config file path of the test's own, not yet written. */
const newConfigFile = () => path.join(dir, randomUUID(), 'config.json');

/**
 * What the CLI sees of AWS: fake static keys, CloudFormation at the stand-in, and no profile or
 * shared file of the developer's (a profile would make the chain skip the keys).
 */
const awsEnv = (configFile: string, overrides: Record<string, string> = {}): Record<string, string> => ({
  RELAY_CONFIG: configFile,
  AWS_ENDPOINT_URL_CLOUDFORMATION: cloudformation.url,
  AWS_ACCESS_KEY_ID: 'AKIDFAKE',
  AWS_SECRET_ACCESS_KEY: 'fake-secret',
  AWS_SESSION_TOKEN: '',
  AWS_PROFILE: '',
  AWS_REGION: 'eu-west-1',
  AWS_DEFAULT_REGION: '',
  AWS_CONFIG_FILE: path.join(dir, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-aws-credentials'),
  ...overrides,
});

/** `relay config --from-stack RelayStack` has run and saved its config in `file`. */
async function savedFromStack(file: string): Promise<void> {
  const result = await runCli(['config', '--from-stack', 'RelayStack'], { env: awsEnv(file) });
  expect(result).toMatchObject({ code: 0, stderr: '' });
}

// Not concurrent: the tests read the requests the shared stand-in received.
describe('relay config --from-stack (against a stand-in CloudFormation: there is no emulator)', () => {
  it('saves the stack’s ApiUrl and region to the config file', async () => {
    const file = newConfigFile();

    const result = await runCli(['config', '--from-stack', 'RelayStack', '--region', 'ap-south-1'], {
      env: awsEnv(file),
    });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ endpoint: relay.url, region: 'ap-south-1' });
    expect(result.stdout).toBe(`saved ${relay.url} (ap-south-1) to ${file}\n`);
  });

  it('asks CloudFormation for the stack with a request signed by the default credential chain', async () => {
    const before = cloudformation.requests.length;
    await savedFromStack(newConfigFile());

    const request = cloudformation.requests
      .slice(before)
      .find((r) => r.body.includes('StackName=RelayStack'));
    expect(Object.fromEntries(new URLSearchParams(request?.body))).toMatchObject({
      Action: 'DescribeStacks',
      StackName: 'RelayStack',
    });
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDFAKE\/\d{8}\/eu-west-1\/cloudformation\/aws4_request,/,
    );
  });

  it('sends later commands to the saved Relay, signed for its region', async () => {
    const file = newConfigFile();
    await savedFromStack(file);
    const before = relay.requests.length;

    const result = await runCli(['queues'], { env: awsEnv(file) });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    // The stand-in answers as a Relay from before queue settings and limits: '-' for each.
    expect(result.stdout).toMatch(/^emails\s+running\s+priority\s+4\s+-\s+-\s+-\s+2\s/m);
    const [request] = relay.requests.slice(before);
    expect(request).toMatchObject({ method: 'GET', url: '/v1/queues' });
    expect(request?.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDFAKE\/\d{8}\/eu-west-1\/execute-api\/aws4_request,/,
    );
  });

  it('exits 2 naming the stack when it does not exist', async () => {
    const file = newConfigFile();

    const result = await runCli(['config', '--from-stack', 'NoSuchStack'], { env: awsEnv(file) });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('relay: stack NoSuchStack not found in eu-west-1\n');
    await expect(readFile(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('exits 2 when the stack has no ApiUrl output', async () => {
    const result = await runCli(['config', '--from-stack', 'HalfBuilt'], { env: awsEnv(newConfigFile()) });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      'relay: stack HalfBuilt (CREATE_IN_PROGRESS) in eu-west-1 has no ApiUrl output: is it a Relay stack?\n',
    );
  });

  it('exits 2 when no AWS credentials are found', async () => {
    const env = awsEnv(newConfigFile(), {
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_EC2_METADATA_DISABLED: 'true',
    });

    const result = await runCli(['config', '--from-stack', 'RelayStack'], { env });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^relay: no AWS credentials found \(.+\); set AWS_PROFILE/);
  });

  it('exits 2 when no region is given or configured', async () => {
    const env = awsEnv(newConfigFile(), { AWS_REGION: '' });

    const result = await runCli(['config', '--from-stack', 'RelayStack'], { env });

    expect(result.code).toBe(2);
    expect(result.stderr).toBe('relay: no AWS region: pass --region or set AWS_REGION\n');
  });
});

describe.concurrent('relay config', () => {
  it('shows the local default when nothing is saved', async () => {
    const file = newConfigFile();

    const result = await runCli(['config'], { env: { RELAY_CONFIG: file } });

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toMatch(/^endpoint\s+http:\/\/127\.0\.0\.1:4000$/m);
    expect(result.stdout).toContain(`default (nothing saved in ${file})`);
    expect(result.stdout).toMatch(/^signing\s+none$/m);
  });

  it('shows the saved endpoint, the file it came from and the region it is signed for', async () => {
    const file = newConfigFile();
    await savedFromStack(file);

    const result = await runCli(['config', '--json'], { env: { RELAY_CONFIG: file } });

    expect(JSON.parse(result.stdout)).toEqual({
      endpoint: relay.url,
      source: file,
      region: 'eu-west-1',
      config_file: file,
    });
  });

  it('lets RELAY_URL, then --endpoint, win over the saved endpoint', async () => {
    const file = newConfigFile();
    await savedFromStack(file);
    const env = { RELAY_CONFIG: file, RELAY_URL: 'http://127.0.0.1:4001' };

    const [fromEnv, fromFlag] = await Promise.all([
      runCli(['config', '--json'], { env }),
      runCli(['config', '--json', '--endpoint', 'https://abc123.execute-api.us-east-2.amazonaws.com/'], {
        env,
      }),
    ]);

    expect(JSON.parse(fromEnv.stdout)).toMatchObject({
      endpoint: 'http://127.0.0.1:4001',
      source: 'RELAY_URL',
      region: null,
    });
    expect(JSON.parse(fromFlag.stdout)).toMatchObject({
      endpoint: 'https://abc123.execute-api.us-east-2.amazonaws.com',
      source: '--endpoint',
      region: 'us-east-2',
    });
  });

  it('exits 2 naming a config file that is not valid JSON', async () => {
    const file = path.join(dir, `${randomUUID()}.json`);
    await writeFile(file, '{ nope');

    const result = await runCli(['queues'], { env: { RELAY_CONFIG: file } });

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^relay: ${file} is not valid JSON`));
  });

  it('exits 2 on --region without --from-stack', async () => {
    const result = await runCli(['config', '--region', 'eu-west-1'], {
      env: { RELAY_CONFIG: newConfigFile() },
    });

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--region needs --from-stack');
  });
});
