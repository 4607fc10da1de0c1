import type { IncomingMessage, RequestListener } from 'node:http';
import type { RequestHandler } from 'express';
import { tokenVerifier } from '../admin/auth.js';
import type { Metrics } from '../metrics.js';

/**
 * Serving the Prometheus scrape, either at /metrics on the app behind METRICS_TOKEN, or on its
 * own listener (METRICS_PORT, started by src/server.ts), where METRICS_TOKEN, when also set, is
 * required too. With neither key there is no /metrics at all: metrics are never public by
 * accident. The token is compared in constant time (tokenVerifier hashes both sides).
 */

interface Scrape {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** `Authorization: Bearer <token>` → the token; '' for another scheme; undefined without the header. */
function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  return /^Bearer\s+(\S+)\s*$/i.exec(header)?.[1] ?? '';
}

function scraper(metrics: Metrics, token: string | undefined): (req: IncomingMessage) => Promise<Scrape> {
  const verify = token === undefined ? undefined : tokenVerifier(token);
  return async (req): Promise<Scrape> => {
    if (verify) {
      const given = bearer(req.headers.authorization);
      if (given === undefined || given === '' || !(await verify(given))) {
        return {
          status: 401,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': given ? 'Bearer realm="metrics", error="invalid_token"' : 'Bearer realm="metrics"' },
          body: 'This endpoint needs Authorization: Bearer <METRICS_TOKEN>.\n',
        };
      }
    }
    return {
      status: 200,
      headers: { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' },
      body: await metrics.registry.metrics(),
    };
  };
}

/** GET /metrics on the app: only mounted when METRICS_TOKEN is set and METRICS_PORT is not. */
export function metricsRoute(metrics: Metrics, token: string): RequestHandler {
  const scrape = scraper(metrics, token);
  return async (req, res) => {
    const answer = await scrape(req);
    res.status(answer.status).set(answer.headers).send(answer.body);
  };
}

/** The METRICS_PORT listener: GET (or HEAD) /metrics, and 404 for everything else. */
export function metricsListener(metrics: Metrics, token: string | undefined): RequestListener {
  const scrape = scraper(metrics, token);
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found\n');
      return;
    }
    scrape(req).then(
      (answer) => res.writeHead(answer.status, answer.headers).end(req.method === 'HEAD' ? undefined : answer.body),
      () => res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('Metrics could not be collected\n'),
    );
  };
}
