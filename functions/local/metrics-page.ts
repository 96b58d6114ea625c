/**
 * `GET /metrics` of the local server: the Prometheus registry's text, or a 503 when the scrape-time
 * counts could not be read (DynamoDB Local busy or gone), so the scraper records a failed scrape
 * rather than a partial one.
 */
import { describeError, log } from '../core/log.ts';
import type { LocalPage } from './http-adapter.ts';
import type { PrometheusMetrics } from './prometheus.ts';

export function metricsPage(metrics: PrometheusMetrics): LocalPage {
  return async (): ReturnType<LocalPage> => {
    try {
      const { contentType, body } = await metrics.scrape();
      return { statusCode: 200, headers: { 'content-type': contentType }, body };
    } catch (error) {
      log('warn', 'metrics scrape failed', describeError(error));
      return {
        statusCode: 503,
        headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' },
        body: 'metrics are unavailable right now',
      };
    }
  };
}
