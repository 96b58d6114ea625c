/**
 * The contract between `npm run bench` (bench/main.ts) and each measurement: a function that gets
 * the running local stack and returns one or more sections of figures. main.ts writes every
 * section's `parameters` and `results` to bench/results.json and its `markdown` to BENCHMARKS.md.
 */
import type { StoreConfig } from '../functions/core/config.ts';
import type { LocalStack } from '../functions/local/stack.ts';

export interface BenchContext {
  /** The whole local stack (`relay dev`), started once for the run, on a free port. */
  readonly stack: LocalStack;
  /** The store settings of the stack's handlers: the bench reads their table beside them. */
  readonly config: StoreConfig;
  /** Smaller parameters, for a smoke run (`npm run bench -- --quick`). */
  readonly quick: boolean;
  /** Progress lines for the terminal (not the report). */
  readonly log: (line: string) => void;
  /** A scratch directory, removed after the run. */
  readonly workDir: string;
}

export interface BenchSection {
  /** Stable key in results.json: `throughput`, `economy`, `contention`, `cold-start`, `ceiling`. */
  readonly id: string;
  /** Heading in BENCHMARKS.md. */
  readonly title: string;
  /** Everything a reader needs to reproduce the figures (N, W, modes, sizes…). */
  readonly parameters: Record<string, unknown>;
  /** The figures, as JSON. */
  readonly results: unknown;
  /** The section's body in BENCHMARKS.md (tables and a short "how measured"), without the heading. */
  readonly markdown: string;
}

export type Bench = (ctx: BenchContext) => Promise<BenchSection[]>;
