/** Lambda entry: the native routes that start commands (submit, retry and requeue managed jobs). */
import { createApiHandler } from '../api/handler.ts';

export const handler = createApiHandler('managed');
