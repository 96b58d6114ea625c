/**
 * The CDK app (`cdk.json` runs it with tsx): one environment-agnostic `RelayStack`, checked by
 * cdk-nag's AwsSolutions rules at every synth.
 *
 * Environment-agnostic on purpose: `cdk synth` then needs no AWS credentials and no lookups, and
 * `cdk deploy` takes the account and region from the caller's credentials. Settings come from CDK
 * context (`-c key=value` or cdk.json):
 * - `stackName` (default `RelayStack`)
 * - `alarmEmail`: an address subscribed to the alarm topic
 * - `managedJobs`: `true` to run managed shell jobs (default `false`: pull jobs only)
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { RelayStack } from '../lib/relay-stack.ts';

export function createApp(app = new App()): App {
  const context = (key: string): string | undefined => {
    const value = app.node.tryGetContext(key);
    return typeof value === 'string' && value ? value : undefined;
  };
  new RelayStack(app, context('stackName') ?? 'RelayStack', {
    relay: { alarmEmail: context('alarmEmail'), managedJobs: flag(app, 'managedJobs') },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return app;
}

/** A yes/no setting: `-c key=true` arrives as a string, cdk.json may hold a boolean. Unset is false. */
function flag(app: App, key: string): boolean {
  const value: unknown = app.node.tryGetContext(key);
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  throw new Error(
    `The context value ${key} is ${JSON.stringify(value)}, but it is a yes/no setting: ` +
      `pass -c ${key}=true or -c ${key}=false, or leave it out for false.`,
  );
}

const isMain =
  process.argv[1] !== undefined && pathToFileURL(resolve(process.argv[1])).href === import.meta.url;
if (isMain) createApp().synth();
