/**
 * Lambda entry: API Gateway's `$default` route, answering 404 or 405 like the local server. It runs
 * no operation, so it has no store to reach.
 */
import { createApiHandler } from '../api/handler.ts';

export const handler = createApiHandler('fallback', {}, () => {
  throw new Error('the fallback runs no operation');
});
