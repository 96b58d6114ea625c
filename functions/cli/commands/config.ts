/** `relay config`: which Relay the commands talk to, and saving a deployed one as the default. */
import type { Command } from 'commander';
import { API_URL_OUTPUT, configPath, stackConfig, writeConfig } from '../config.ts';
import { clientFor, examples, type Globals, print, target, usage } from '../context.ts';
import { table } from '../format.ts';

export function addConfigCommand(cli: Command): void {
  examples(
    cli
      .command('config')
      .description(
        'show which Relay commands talk to; with --from-stack, save a deployed Relay as the default',
      )
      .option(
        '--from-stack <name>',
        `save the API URL from this CloudFormation stack's ${API_URL_OUTPUT} output`,
      )
      .option('--region <region>', "with --from-stack, the stack's region (default: the AWS SDK's)")
      .action(async (opts: { fromStack?: string; region?: string }, command: Command) => {
        const globals = command.optsWithGlobals<Globals>();
        const file = configPath();
        if (opts.fromStack === undefined) {
          if (opts.region !== undefined) usage('--region needs --from-stack');
          const found = await target(command);
          const { endpoint, region } = clientFor(found);
          const source = found.source === 'default' ? `default (nothing saved in ${file})` : found.source;
          const rows = [
            ['endpoint', endpoint],
            ['source', source],
            ['signing', region ? `SigV4 for ${region}` : 'none'],
          ];
          const shown = { endpoint, source: found.source, region: region ?? null, config_file: file };
          return print(globals, shown, table(undefined, rows));
        }
        process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
        const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
        const cloudformation = new CloudFormationClient(opts.region ? { region: opts.region } : {});
        const saved = await stackConfig(cloudformation, opts.fromStack);
        await writeConfig(file, saved);
        print(
          globals,
          { ...saved, config_file: file },
          `saved ${saved.endpoint} (${saved.region}) to ${file}`,
        );
      }),
    'relay config',
    'relay config --from-stack RelayStack --region eu-west-1',
  );
}
