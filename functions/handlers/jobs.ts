/** Lambda entry: Relay's native job API. */
import { createApiHandler } from '../api/handler.ts';
import { jobOperations } from '../api/operations.ts';
import { apiContextFromEnv } from './services.ts';

export const handler = createApiHandler('jobs', jobOperations(), apiContextFromEnv);
