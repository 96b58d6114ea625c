/** Lambda entry: API Gateway's `$default` route, answering 404 or 405 like the local server. */
import { createApiHandler } from '../api/handler.ts';
import { apiContextFromEnv } from './services.ts';

export const handler = createApiHandler('fallback', apiContextFromEnv);
