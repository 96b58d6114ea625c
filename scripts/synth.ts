// `npm run synth [-- [outdir] [-c key=value …]]`: synthesizes the stack offline (cdk-nag runs as part
// of it) and prints what each function bundles. Fails if a bundle pulls in infrastructure or
// development packages, or more than 200 KiB of Relay's own code and zod. Context goes to the app as to `cdk synth`: `npm run synth -- -c managedJobs=true`.
import { execFileSync } from 'node:child_process';
import { FORBIDDEN_PACKAGES, functionBundles, OWN_CODE_CEILING_BYTES, ownCodeBytes } from './bundles.ts';

const stackName = process.env.RELAY_STACK_NAME ?? 'RelayStack';
const args = process.argv.slice(2);
const context: string[] = [];
const positional: string[] = [];
for (let i = 0; i < args.length; i++) {
  const arg = args[i] as string;
  if (arg === '-c' || arg === '--context') {
    const value = args[++i];
    if (!value?.includes('=')) {
      console.error(`${arg} needs key=value, e.g. ${arg} managedJobs=true`);
      process.exit(2);
    }
    context.push('-c', value);
  } else positional.push(arg);
}
const outdir = positional[0] ?? 'cdk.out';
execFileSync(
  'npx',
  ['--no-install', 'cdk', 'synth', '--quiet', '--output', outdir, '-c', `stackName=${stackName}`, ...context],
  { stdio: 'inherit' },
);

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
let failed = false;
console.log('\nFunction bundles (minified ESM with the AWS SDK; own = Relay’s code and zod):');
for (const bundle of functionBundles(outdir, stackName)) {
  const top = Object.entries(bundle.packages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, bytes]) => `${name} ${kib(bytes)}`)
    .join(', ');
  const own = ownCodeBytes(bundle.outputPackages);
  console.log(
    `  ${bundle.path.padEnd(40)} ${kib(bundle.bytes).padStart(9)}   own ${kib(own).padStart(8)}   inputs: ${top}`,
  );
  if (own > OWN_CODE_CEILING_BYTES) {
    console.error(
      `  ✗ ${bundle.path} holds ${kib(own)} of Relay’s code and zod, over ${kib(OWN_CODE_CEILING_BYTES)}`,
    );
    failed = true;
  }
  const forbidden = Object.keys(bundle.packages).filter((name) => FORBIDDEN_PACKAGES.includes(name));
  if (forbidden.length) {
    console.error(`  ✗ ${bundle.path} bundles ${forbidden.join(', ')}`);
    failed = true;
  }
}
if (failed) process.exit(1);
