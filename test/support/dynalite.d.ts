/** Just what the emulator-facts test uses of dynalite (which ships no types). */
declare module 'dynalite' {
  import type { Server } from 'node:http';

  export default function dynalite(options?: { createTableMs?: number; path?: string }): Server;
}
