/** Lambda entry: the native routes that start commands (submit, retry and requeue managed jobs). */
import { createApiHandler } from '../api/handler.ts';
import { managedGroupOperations } from '../api/operations.ts';
import { apiContextFromEnv } from './services.ts';

export const handler = createApiHandler('managed', managedGroupOperations(), apiContextFromEnv);
