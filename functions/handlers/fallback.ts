/** Lambda entry: API Gateway's `$default` route, answering 404 or 405 like the local server. */
import { createApiHandler } from '../api/handler.ts';

export const handler = createApiHandler('fallback');
