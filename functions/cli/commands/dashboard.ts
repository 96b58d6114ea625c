/** `relay dashboard`: the web dashboard on this machine for the Relay the CLI talks to. */
import type { Command } from 'commander';
import { signingRegion } from '../../sdk/sigv4.ts';
import { examples, type Globals, target } from '../context.ts';
import { startDashboardProxy } from '../dashboard-proxy.ts';
import { parsePort, stopSignal } from '../serving.ts';

export const DEFAULT_DASHBOARD_PORT = 4100;

export function addDashboardCommand(cli: Command): void {
  examples(
    cli
      .command('dashboard')
      .description(
        'serve the web dashboard on 127.0.0.1 for the Relay the CLI talks to, signing its API calls with your AWS credentials',
      )
      .option(
        '--port <port>',
        'port to listen on, on 127.0.0.1 only (RELAY_DASHBOARD_PORT)',
        parsePort,
        parsePort(process.env.RELAY_DASHBOARD_PORT ?? String(DEFAULT_DASHBOARD_PORT)),
      )
      .action(async (opts: { port: number }, command: Command) => {
        const to = await target(command);
        const region = signingRegion(to.endpoint, to.region ? { region: to.region } : undefined);
        const { token } = command.optsWithGlobals<Globals>();
        const proxy = await startDashboardProxy({ endpoint: to.endpoint, region, token }, opts.port);
        const how = region ? `signed with your AWS credentials for ${region}` : 'unsigned';
        process.stdout.write(
          [
            `Relay dashboard for ${to.endpoint} (from ${to.source}; API calls ${how})`,
            `Open: ${proxy.pageUrl}`,
            'The address holds a token for this session: share it with no one. Ctrl-C stops the dashboard.',
            '',
          ].join('\n'),
        );
        await stopSignal('relay dashboard');
        await proxy.close();
      }),
    'relay dashboard',
    'relay dashboard --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com --port 4200',
  );
}
