/**
 * The `relay` command. Kept to a main guard so tests can import the program without running it.
 */
import { main } from '../functions/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
