// `npm run synth [outdir]`: synthesizes the stack offline (cdk-nag runs as part of it) and prints what
// each function bundles. Fails if a bundle pulls in infrastructure or development packages.
import { execFileSync } from 'node:child_process';
import { FORBIDDEN_PACKAGES, functionBundles } from './bundles.ts';

const stackName = process.env.RELAY_STACK_NAME ?? 'RelayStack';
const outdir = process.argv[2] ?? 'cdk.out';
execFileSync(
  'npx',
  ['--no-install', 'cdk', 'synth', '--quiet', '--output', outdir, '-c', `stackName=${stackName}`],
  {
    stdio: 'inherit',
  },
);

const kib = (bytes: number) => `${(bytes / 1024).toFixed(0)} KiB`;
let failed = false;
console.log('\nFunction bundles (minified ESM; the AWS SDK comes from the Lambda runtime):');
for (const bundle of functionBundles(outdir, stackName)) {
  const top = Object.entries(bundle.packages)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, bytes]) => `${name} ${kib(bytes)}`)
    .join(', ');
  console.log(`  ${bundle.path.padEnd(40)} ${kib(bundle.bytes).padStart(9)}   inputs: ${top}`);
  const forbidden = Object.keys(bundle.packages).filter((name) => FORBIDDEN_PACKAGES.includes(name));
  if (forbidden.length) {
    console.error(`  ✗ ${bundle.path} bundles ${forbidden.join(', ')}`);
    failed = true;
  }
}
if (failed) process.exit(1);
