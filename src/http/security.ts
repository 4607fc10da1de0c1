import type { RequestHandler, Response } from 'express';
import helmet from 'helmet';
import type { Config } from '../config.js';
import { cspSourceFor } from './urls.js';

/**
 * Security headers on every response. The CSP allows no script at all and no inline style.
 *
 * `form-action` is per page: Chromium applies it to every redirect that follows a form POST, so
 * the login form's 302 to Hydra and Hydra's 302 to the client would be blocked by a bare 'self'.
 * Each flow page adds exactly the origins its form may end up at (Hydra's public origin from the
 * request_url, the client's registered redirect URIs) with allowFormTargets().
 */
export function securityHeaders(config: Config): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      // Nothing is allowed unless named: no script at all (the pages have none), styles and
      // images from here, plus client logos.
      directives: {
        'default-src': ["'none'"],
        'style-src': ["'self'"],
        // Client logos are hosted anywhere; only http(s) URLs ever reach an <img>.
        'img-src': ["'self'", 'https:', 'http:'],
        'form-action': ["'self'"],
        'frame-ancestors': ["'none'"],
        'base-uri': ["'none'"],
        ...(config.secureCookies ? { 'upgrade-insecure-requests': [] } : {}),
      },
    },
    // HSTS only makes sense, and is only honoured, over https.
    strictTransportSecurity: config.secureCookies ? { maxAge: 180 * 24 * 3600, includeSubDomains: false } : false,
    referrerPolicy: { policy: 'no-referrer' },
    xFrameOptions: { action: 'deny' },
    crossOriginEmbedderPolicy: false,
    // For IE8 downloads and Flash/Acrobat cross-domain files: nothing here serves either.
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
  });
}

/**
 * Lets this page's forms (and the redirects after them) reach these URLs' origins, by widening
 * the form-action directive of the CSP header helmet already set.
 */
export function allowFormTargets(res: Response, urls: Iterable<string | undefined | null>): void {
  const header = res.getHeader('Content-Security-Policy');
  if (typeof header !== 'string') return;
  const sources = new Set<string>(["'self'"]);
  for (const url of urls) {
    const source = url ? cspSourceFor(url) : undefined;
    if (source) sources.add(source);
  }
  res.setHeader('Content-Security-Policy', header.replace(/form-action [^;]*/, `form-action ${[...sources].join(' ')}`));
}

/** Flow pages carry one-time challenges: never cache them anywhere (no-store is all HTTP/1.1 needs). */
function forbidCaching(res: Response): void {
  res.setHeader('Cache-Control', 'no-store');
}

export const noStore: RequestHandler = (_req, res, next) => {
  forbidCaching(res);
  next();
};

/**
 * What every flow page gets before its handler: marked as a flow page (res.locals.flow), no-store,
 * its form body parsed, then CSRF. One middleware, not four: Express walks each one it mounts as
 * its own router layer, a path match and a few allocations apiece (~2.5 µs a request each).
 */
export function flowPages(parseForm: RequestHandler, csrf: RequestHandler): RequestHandler {
  return (req, res, next) => {
    res.locals.flow = true;
    forbidCaching(res);
    void parseForm(req, res, (err?: unknown) => {
      if (err) {
        next(err);
        return;
      }
      // The body parser may call back after reading a body, outside Express's own try/catch.
      try {
        void csrf(req, res, next);
      } catch (thrown) {
        next(thrown);
      }
    });
  };
}
