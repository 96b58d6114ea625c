/** Lambda entry: Relay's native job API. */
import { createApiHandler } from '../api/handler.ts';

export const handler = createApiHandler('jobs');
