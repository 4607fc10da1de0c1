import path from 'node:path';
import express from 'express';
import type { Store } from 'express-session';
import type { Logger } from 'pino';
import { accountRouter } from './account/index.js';
import type { Mailer } from './account/mail.js';
import { adminRouter } from './admin/index.js';
import type { Config } from './config.js';
import { demoRouter } from './demo/index.js';
import { errorPageRouter } from './flows/error.js';
import { consentRouter } from './flows/consent.js';
import { deviceRouter } from './flows/device.js';
import { loginRouter } from './flows/login.js';
import { logoutRouter } from './flows/logout.js';
import { healthRouter } from './health.js';
import type { HydraAdmin } from './hydra/client.js';
import { csrfProtection } from './http/csrf.js';
import { errorHandler, notFound } from './http/errors.js';
import { lazyCatalogs } from './http/i18n.js';
import { catalogsReady, languageSwitch, negotiateLocale } from './http/locale.js';
import { requestLogger } from './http/logging.js';
import { metricsRoute } from './http/metrics.js';
import { deviceLimits, loginLimits } from './http/rate-limit.js';
import { flowPages, securityHeaders } from './http/security.js';
import { ejsViews, endRenderedPages } from './http/views.js';
import type { Metrics } from './metrics.js';
import type { RedisConnection } from './redis.js';
import type { AccountStore } from './users/accounts.js';
import type { FactorStore } from './users/factors.js';
import type { UserStore } from './users/store.js';

/** Everything the app needs from outside. Production (src/deps.ts) and tests fill the same seam. */
export interface AppDeps {
  config: Config;
  hydra: HydraAdmin;
  users: UserStore;
  /** Account administration (admin console, /account); production's is the same SQL store as `users`. */
  accounts?: AccountStore;
  /** Second factors, recovery codes and login levels (src/users/factors.ts); production's is the SQL store's. Without it: passwords only. */
  factors?: FactorStore;
  /** Outgoing email (SMTP_URL): "Forgot password?" exists only with it (src/account/mail.ts). */
  mailer?: Mailer;
  logger: Logger;
  /** Sessions for the admin console and the demo: BoundedMemoryStore, or Redis with REDIS_URL. */
  sessionStore: Store;
  /** With REDIS_URL: the connection sessions and rate-limit counters share (closed on shutdown). */
  redis?: RedisConnection;
  /**
   * Prometheus metrics (src/metrics.ts): built by deps.ts when METRICS_TOKEN or METRICS_PORT is
   * set, by tests with createMetrics(). Without it nothing is counted and there is no /metrics.
   */
  metrics?: Metrics;
}

const ROOT = path.resolve(import.meta.dirname, '..');
const SIMPLEWEBAUTHN_BROWSER = path.join(ROOT, 'node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js');
/** Body limit for our forms; a login or consent form is a few hundred bytes. */
const FORM_LIMIT = '16kb';

/** Builds the Express app: every middleware and router in order, on one screen. No I/O, no listen. */
export function createApp(deps: AppDeps) {
  const { config } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.trustProxy);
  const views = path.join(ROOT, 'views');
  app.set('views', views);
  // Stock EJS with its template cache, warmed before the first render (src/http/views.ts). Line
  // tracking (compileDebug) names the template line in a render error; production skips its cost.
  app.engine('ejs', ejsViews(views, { compileDebug: !config.production, cache: true }));
  app.set('view engine', 'ejs');
  app.set('view cache', true);
  endRenderedPages(app);
  // Flow pages are no-store and unique (CSRF token): an ETag is a SHA-1 of every page for nothing.
  app.set('etag', false);
  app.locals.base = config.basePath;
  // The login page links "Forgot password?" only when a link can be mailed (SMTP_URL).
  app.locals.forgotPasswordUrl = deps.accounts && deps.mailer ? `${config.basePath}/account/forgot` : undefined;

  const site = express.Router();
  const catalogs = lazyCatalogs(path.join(ROOT, 'locales'));
  const csrf = csrfProtection(config);
  const parseForm = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 100 });

  const { metrics } = deps;
  // The access line, and the response count of /metrics (hlc_http_responses_total).
  app.use(requestLogger(deps.logger, metrics && ((status) => metrics.httpResponse(status))));
  app.use(securityHeaders(config));
  // Message catalogs (locales/<lang>.json), read asynchronously before the first page; every page,
  // error pages included, starts in English.
  app.use(catalogsReady(catalogs));
  site.use('/assets', express.static(path.join(ROOT, 'public'), { maxAge: '1h', index: false }));
  // The @simplewebauthn/browser bundle for the passkey pages, from node_modules (no CDN): /assets/vendor/simplewebauthn-browser.js.
  site.get('/assets/vendor/simplewebauthn-browser.js', (_req, res) => {
    res.sendFile(SIMPLEWEBAUTHN_BROWSER, { maxAge: '1h' });
  });
  site.use('/health', healthRouter(deps));
  // The Prometheus scrape, behind METRICS_TOKEN. With METRICS_PORT it is on that listener
  // instead (src/server.ts), and with neither key it does not exist: a plain 404.
  if (metrics && config.metrics.token !== undefined && config.metrics.port === undefined) {
    site.get('/metrics', metricsRoute(metrics, config.metrics.token));
  }

  // Every page negotiates its language (src/http/locale.ts); a flow then puts Hydra's ui_locales first.
  site.use(negotiateLocale(config));
  site.get('/language', languageSwitch(config));

  // The flows Hydra sends the browser to: urls.login, urls.consent, urls.logout, urls.error,
  // and (Hydra v25.4+) urls.device.verification at /device, urls.device.success at /device/success.
  site.use(['/login', '/consent', '/logout', '/device'], flowPages(parseForm, csrf));
  site.use(loginRouter(deps, loginLimits(config, deps.redis, () => metrics?.flowOutcome('login', 'rate_limited'))));
  site.use(consentRouter(deps));
  site.use(logoutRouter(deps));
  site.use(deviceRouter(deps, deviceLimits(config, deps.redis, () => metrics?.flowOutcome('device', 'rate_limited'))));
  site.use(errorPageRouter());
  // The demo relying party; its router brings its own body parser, session and CSRF.
  if (config.demo) site.use('/demo', demoRouter(deps));
  // The account area (sign-in through Hydra, profile, password, applications, sessions) and the
  // one-time set-password links; its router brings its own body parser, session and CSRF.
  if (deps.accounts) site.use('/account', accountRouter(deps));

  // Operators' console and JSON API; without ADMIN_TOKEN every /admin path is a plain 404.
  if (config.adminToken) site.use('/admin', adminRouter(deps));
  site.get('/', (_req, res) => {
    res.render('home', { title: res.locals.t('home.title') });
  });
  site.use(notFound);

  app.use(config.basePath || '/', site);
  app.use(notFound);
  app.use(errorHandler());
  return app;
}
