/** Lambda entry: relay-rs-compatible routes (v1, seed, v2). */
import { createApiHandler } from '../api/handler.ts';
import { relayOperations } from '../api/relay-operations.ts';
import { apiContextFromEnv } from './services.ts';

export const handler = createApiHandler('relay', relayOperations, apiContextFromEnv);
