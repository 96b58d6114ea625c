/**
 * The AWS SDK's default credential chain, as a Lambda function needs it: Lambda puts the
 * function role's credentials in the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
 * `AWS_SESSION_TOKEN`), the chain's first link, so the rest of it (shared config and credentials
 * files, SSO, web identity, container and instance metadata) is never reached there.
 *
 * `RelayFunction`'s bundles put this module in the place of `@aws-sdk/credential-provider-node`
 * (lib/lambda-bundling.ts): every client's default provider then reads the environment alone, and
 * a bundle loses the other providers' code, which a cold start would load for nothing. The CLI,
 * the SDK and the Fargate runner keep the whole chain.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
import { type FromEnvInit, fromEnv } from '@aws-sdk/credential-provider-env';

/** `@aws-sdk/credential-provider-node`'s `defaultProvider`, reading the environment only. */
export const defaultProvider = (init: FromEnvInit = {}) => fromEnv(init);
