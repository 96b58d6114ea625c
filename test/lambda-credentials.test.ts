/**
 * The credential chain Lambda bundles get in place of the SDK's default one
 * (functions/core/lambda-credentials.ts): the environment Lambda sets, and nothing else.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { defaultProvider } from '../functions/core/lambda-credentials.ts';
import { LAMBDA_ALIASES } from '../lib/lambda-bundling.ts';

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the Lambda credential chain', () => {
  it("resolves the function role's credentials from the variables Lambda sets", async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'ASIAEXAMPLE');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'token');

    expect(await defaultProvider()()).toMatchObject({
      accessKeyId: 'ASIAEXAMPLE',
      secretAccessKey: 'secret',
      sessionToken: 'token',
    });
  });

  it('looks nowhere else: without the variables it fails, even where a profile is configured', async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', '');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', '');
    vi.stubEnv('AWS_PROFILE', 'default');

    await expect(defaultProvider()()).rejects.toThrow(/environment/i);
  });

  it('replaces the default chain of the SDK clients in the bundles, by the module above', () => {
    expect(LAMBDA_ALIASES['@aws-sdk/credential-provider-node']).toMatch(
      /functions\/core\/lambda-credentials\.ts$/,
    );
  });
});
