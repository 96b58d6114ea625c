/** Relay's TypeScript SDK: the API client and the worker loop. */
export * from './client.ts';
export * from './worker.ts';
