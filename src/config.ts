import { createHmac, randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { describeTarget, parseDatabaseUrl, type DatabaseTarget } from './users/sql/url.js';

/**
 * Configuration, read once from the environment at start-up. Every key is documented next to
 * its default; README.md has the same table for operators. loadConfig never touches the
 * process: it returns the config plus warnings, or throws ConfigError naming each bad variable.
 */

const seconds = (fallback: number) => z.coerce.number().int().min(0).default(fallback);
const optionalString = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));
const httpUrl = z
  .string()
  .trim()
  .refine((value) => /^https?:\/\/[^/]/i.test(value) && URL.canParse(value), 'must be an http(s) URL');
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .optional()
  .transform((value) => value === 'true' || value === '1' || value === 'yes');
/** Like `bool`, but unset (or empty) stays undefined, for switches whose default depends on other keys. */
const optionalBool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .optional()
  .transform((value) => (value === undefined || value === '' ? undefined : value === 'true' || value === '1' || value === 'yes'));

const schema = z.object({
  NODE_ENV: z.string().optional().default('development'),
  /** Port the app listens on. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to bind; all by default (containers), 127.0.0.1 to keep it local. */
  HOST: z.string().trim().min(1).default('0.0.0.0'),
  /** Hydra's admin API, e.g. http://127.0.0.1:4445. Required. */
  HYDRA_ADMIN_URL: httpUrl,
  /** `v2` for Hydra v2.2+ (v2.3, v25, v26), `v1` for Hydra v1.11. */
  HYDRA_API_VERSION: z.enum(['v1', 'v2']).default('v2'),
  /** Every call to Hydra is cut after this many milliseconds (504 to the browser). */
  HYDRA_TIMEOUT_MS: z.coerce.number().int().min(1).max(600_000).default(10_000),
  /** Sent as `Authorization: Bearer` to the admin API (Ory Network, or a gateway). */
  HYDRA_ADMIN_TOKEN: optionalString,
  /** Public URL of this app, e.g. https://login.example.com or https://example.com/auth (sub-path). */
  BASE_URL: httpUrl.optional(),
  /** Signs cookies. At least 32 characters; required in production, else generated per process. */
  SESSION_SECRET: optionalString,
  /**
   * The user database: empty → the SQLite file ./data/accounts.db (created on first start);
   * sqlite:path/to.db, sqlite:///absolute/path.db, or postgres://user:password@host:5432/db
   * (postgresql:// too) for several instances sharing one database.
   */
  DATABASE_URL: optionalString,
  /** A JSON user file (users.example.json) imported at each start: users not yet in the database are added. */
  USERS_FILE: optionalString,
  /** Shortest password accepted when one is set: NIST SP 800-63B's floor, 8 (src/users/passwords.ts). */
  PASSWORD_MIN_LENGTH: z.coerce.number().int().min(8).max(64).default(8),
  /** How long "remember me" keeps a login, in seconds (0: until the browser closes). 30 days. */
  LOGIN_REMEMBER_FOR: seconds(30 * 24 * 3600),
  /** How long a remembered consent lasts, in seconds (0: forever, as Hydra reads it). 30 days. */
  CONSENT_REMEMBER_FOR: seconds(30 * 24 * 3600),
  /** Consent boxes start ticked. Off: unticked, as in Ory's reference app and its browser suite. */
  CONSENT_PRESELECT_SCOPES: bool,
  /**
   * The language of the translated screens when neither Hydra's ui_locales, the person's pick nor
   * Accept-Language names one we have a catalog for (locales/<lang>.json). Default en.
   */
  DEFAULT_LOCALE: z.string().trim().regex(/^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$/, 'a BCP 47 language tag such as en, de or pt-BR').default('en'),
  /** Express `trust proxy`: false, true, a hop count, or a comma-separated list of addresses/subnets. */
  TRUST_PROXY: z.string().trim().optional(),
  /** Enables the admin console and API at /admin. At least 32 characters. */
  ADMIN_TOKEN: optionalString,
  /** Redis for sessions and rate-limit counters shared by all instances, e.g. redis://127.0.0.1:6379. */
  REDIS_URL: optionalString,
  /** pino level: fatal, error, warn, info, debug, trace or silent. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Failed-login budget per client IP within the window. */
  LOGIN_RATE_LIMIT_PER_IP: z.coerce.number().int().min(1).default(30),
  /** Failed-login budget per account (email) within the window. */
  LOGIN_RATE_LIMIT_PER_ACCOUNT: z.coerce.number().int().min(1).default(10),
  /** Rate-limit window in seconds. */
  LOGIN_RATE_LIMIT_WINDOW: z.coerce.number().int().min(1).default(15 * 60),
  /** Password checks (argon2id, ~19 MiB and ~20 ms of CPU each) taken at once (one per CPU hashes, the rest are next). Default: CPUs × 2. */
  LOGIN_HASH_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(() => availableParallelism() * 2),
  /** Password checks waiting for a slot; past this a sign-in is a 503 with Retry-After. */
  LOGIN_HASH_QUEUE: z.coerce.number().int().min(0).max(100_000).default(32),
  /** Nice value of the hashing threads (Linux): 10 puts pages first when every core is busy; 0 treats both alike. */
  LOGIN_HASH_NICE: z.coerce.number().int().min(0).max(19).default(10),
  /** Seconds a SIGTERM waits for in-flight requests before closing them. */
  SHUTDOWN_TIMEOUT: z.coerce.number().int().min(0).default(10),
  /** Seconds a client has to send a whole request (headers within min(this, 20)); then 408. */
  REQUEST_TIMEOUT: z.coerce.number().int().min(1).max(3600).default(30),
  /**
   * Prometheus metrics (src/metrics.ts). With METRICS_TOKEN (at least 32 characters) they are at
   * /metrics behind `Authorization: Bearer <METRICS_TOKEN>`; with METRICS_PORT on a listener of
   * their own instead (which then also asks for the token when it is set). Neither: no metrics.
   */
  METRICS_TOKEN: optionalString,
  METRICS_PORT: z.coerce.number().int().min(1).max(65535).optional(),
  /** Interface of the METRICS_PORT listener: loopback unless opened on purpose (0.0.0.0 in a container). */
  METRICS_HOST: z.string().trim().min(1).default('127.0.0.1'),
  /** Flow outcomes carry the OAuth2 client id as a label. Off: one series per outcome however many clients there are. */
  METRICS_CLIENT_LABEL: bool,
  /**
   * Upper-case the user code typed on /device before Hydra checks it. Only for Hydra's `medium`
   * preset or an upper-case character_set: the default `high` preset mixes cases, and Hydra
   * compares codes exactly.
   */
  DEVICE_USER_CODE_UPPERCASE: bool,
  /**
   * Hydra's public URL as the browser sees it (the issuer). The logout page's CSP names its origin
   * (Hydra gives the logout request_url as a bare path); the demo uses it as the issuer.
   */
  HYDRA_PUBLIC_URL: httpUrl.optional(),
  /** Hydra's public URL for back-channel calls from this app, when it differs (e.g. a compose service name). */
  HYDRA_PUBLIC_INTERNAL_URL: httpUrl.optional(),
  /** The demo's OAuth2 client (authorization code + PKCE). */
  DEMO_CLIENT_ID: optionalString,
  DEMO_CLIENT_SECRET: optionalString,
  /** A second demo client for the client-credentials grant. */
  DEMO_M2M_CLIENT_ID: optionalString,
  DEMO_M2M_CLIENT_SECRET: optionalString,
  /** The demo is off in production unless this is true. */
  DEMO_ENABLED: bool,
  /**
   * The self-service account area at /account (src/account/). Default: on when HYDRA_PUBLIC_URL is
   * set, since it signs people in through Hydra as an OpenID Connect client; `false` turns it off.
   * The one-time set-password page (/account/set-password) works either way.
   */
  ACCOUNT_ENABLED: optionalBool,
  /** The account area's own OAuth2 client at Hydra. Default `account`. */
  ACCOUNT_CLIENT_ID: optionalString,
  /** Its secret. Default: derived from SESSION_SECRET (HMAC), so every instance agrees without another secret. */
  ACCOUNT_CLIENT_SECRET: optionalString,
  /** Create or update that client through the admin API at start-up (default true); false: the operator registers it. */
  ACCOUNT_CLIENT_REGISTER: optionalBool,
  /**
   * Changing second factors in /account (adding a passkey or an authenticator app, removing one,
   * new recovery codes) needs a sign-in at Hydra no older than this, in seconds; an older one is
   * asked again (prompt=login). 15 minutes.
   */
  ACCOUNT_REAUTH_AFTER: seconds(15 * 60),
  /** smtp://user:password@host:587 or smtps://…:465: enables "Forgot password?" (nodemailer). Unset: hidden. */
  SMTP_URL: optionalString,
  /** The From of the emails this app sends, e.g. `Sign-in <no-reply@example.com>`. Required with SMTP_URL. */
  MAIL_FROM: optionalString,
  /** Seconds a "Forgot password?" link works. 1 hour. */
  PASSWORD_RESET_TTL: z.coerce.number().int().min(300).max(7 * 24 * 3600).default(3600),
  /**
   * Second factors (src/mfa/). `optional` (default): people may add an authenticator app in
   * /account, and whoever has one is asked for it after the password. `required`: everyone is,
   * and a person without one enrols at the next sign-in. `off`: passwords only, no factor pages.
   */
  MFA: z.enum(['off', 'optional', 'required']).default('optional'),
  /**
   * Encrypts TOTP secrets at rest (AES-256-GCM) and keys the recovery-code hashes. At least 32
   * characters. Required in production unless MFA=off; in development derived from SESSION_SECRET.
   * Changing it makes every enrolled authenticator app and recovery code unusable.
   */
  MFA_ENCRYPTION_KEY: optionalString,
  /** When a client's acr_values ask for two factors and the person has none: enrol at sign-in (true) or refuse with unmet_authentication_requirements (default). */
  MFA_ENROL_ON_DEMAND: bool,
  /** The acr sent to Hydra for a password-only login (and asked for in acr_values). */
  ACR_ONE_FACTOR: z.string().trim().min(1).default('urn:hlc:acr:1fa'),
  /** The acr of a login with a second factor (password + TOTP or recovery code). */
  ACR_TWO_FACTOR: z.string().trim().min(1).default('urn:hlc:acr:2fa'),
  /** The acr of a phishing-resistant login (a passkey); reserved until passkeys land. */
  ACR_PHISHING_RESISTANT: z.string().trim().min(1).default('urn:hlc:acr:phr'),
});

export type TrustProxy = boolean | number | string[];

export interface Config {
  readonly production: boolean;
  readonly port: number;
  readonly host: string;
  readonly hydra: {
    readonly adminUrl: string;
    readonly apiVersion: 'v1' | 'v2';
    readonly timeoutMs: number;
    readonly adminToken?: string;
    readonly publicUrl?: string;
    readonly publicInternalUrl?: string;
  };
  /** Public origin + sub-path, without a trailing slash. */
  readonly baseUrl: string;
  /** The sub-path routes are mounted under: '' or e.g. '/auth'. */
  readonly basePath: string;
  /** True when cookies must carry Secure (https BASE_URL, or TLS ended at a trusted proxy). */
  readonly secureCookies: boolean;
  readonly sessionSecret: string;
  /** Where the users are (parsed DATABASE_URL) and how to name it in logs (no password). */
  readonly database: { readonly target: DatabaseTarget; readonly description: string };
  readonly usersFile?: string;
  readonly passwordPolicy: { readonly minLength: number };
  readonly loginRememberFor: number;
  readonly consentRememberFor: number;
  /** The consent page's scope boxes start ticked (CONSENT_PRESELECT_SCOPES). */
  readonly consentPreselectScopes: boolean;
  /** DEFAULT_LOCALE: the last step of locale negotiation (src/http/locale.ts). */
  readonly defaultLocale: string;
  readonly trustProxy: TrustProxy;
  readonly adminToken?: string;
  readonly redisUrl?: string;
  readonly logLevel: string;
  readonly rateLimit: { readonly perIp: number; readonly perAccount: number; readonly windowMs: number };
  /** How many password checks run at once, and how many may wait (src/users/work-queue.ts). */
  readonly passwordChecks: { readonly concurrency: number; readonly queue: number; readonly nice: number };
  readonly shutdownTimeoutMs: number;
  readonly requestTimeoutMs: number;
  /** METRICS_*: how the metrics are served; `enabled` when a token or a port is set. */
  readonly metrics: {
    readonly enabled: boolean;
    readonly token?: string;
    readonly port?: number;
    readonly host: string;
    readonly clientLabel: boolean;
  };
  /** The device verification page (/device). */
  readonly device: { readonly uppercaseUserCode: boolean };
  readonly demo?: {
    readonly clientId: string;
    readonly clientSecret?: string;
    readonly m2mClientId?: string;
    readonly m2mClientSecret?: string;
  };
  /** The signed-in account area at /account (ACCOUNT_*); undefined: off. Needs HYDRA_PUBLIC_URL. */
  readonly account?: {
    readonly clientId: string;
    readonly clientSecret: string;
    /** Register or update the client at start-up (src/account/client.ts). */
    readonly registerClient: boolean;
    /** Seconds a sign-in stays recent enough to change second factors (ACCOUNT_REAUTH_AFTER). */
    readonly reauthAfter: number;
  };
  /** Outgoing email (SMTP_URL, MAIL_FROM); undefined: "Forgot password?" is hidden. */
  readonly mail?: { readonly smtpUrl: string; readonly from: string };
  /** Seconds a "Forgot password?" link works. */
  readonly passwordResetTtl: number;
  /** Second factors (MFA, MFA_ENCRYPTION_KEY, MFA_ENROL_ON_DEMAND, ACR_*). */
  readonly mfa: {
    readonly mode: 'off' | 'optional' | 'required';
    /** 32 bytes: AES-256-GCM for TOTP secrets, HMAC for recovery codes (src/mfa/secrets.ts). */
    readonly key: Buffer;
    readonly enrolOnDemand: boolean;
    /** The acr names of levels 1, 2, 3 (src/mfa/levels.ts). */
    readonly acr: { readonly oneFactor: string; readonly twoFactor: string; readonly phishingResistant: string };
  };
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

function parseTrustProxy(raw: string | undefined): TrustProxy | string {
  if (raw === undefined || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  if (/^\d+$/.test(raw)) return Number(raw);
  const list = raw.split(',').map((item) => item.trim()).filter(Boolean);
  const address = /^(loopback|linklocal|uniquelocal|[0-9a-f.:]+(\/\d{1,3})?)$/i;
  const bad = list.find((item) => !address.test(item));
  return bad === undefined ? list : `TRUST_PROXY: "${bad}" is not true, false, a hop count or an address/subnet`;
}

export function loadConfig(env: Record<string, string | undefined>): { config: Config; warnings: string[] } {
  const parsed = schema.safeParse(env);
  const problems: string[] = [];
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0] ?? 'environment');
      const message = env[name] === undefined || env[name] === '' ? 'is required' : issue.message;
      problems.push(`${name} ${message}`);
    }
    throw new ConfigError(problems);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const warnings: string[] = [];

  const trustProxy = parseTrustProxy(e.TRUST_PROXY);
  if (typeof trustProxy === 'string') problems.push(trustProxy);

  let sessionSecret = e.SESSION_SECRET;
  if (sessionSecret !== undefined && sessionSecret.length < 32) problems.push('SESSION_SECRET must be at least 32 characters');
  if (sessionSecret === undefined) {
    if (production) problems.push('SESSION_SECRET is required when NODE_ENV=production');
    sessionSecret = randomBytes(32).toString('base64url');
    warnings.push('SESSION_SECRET is not set: using a random one, so cookies break on restart and differ between instances');
  }
  if (e.ADMIN_TOKEN !== undefined && e.ADMIN_TOKEN.length < 32) problems.push('ADMIN_TOKEN must be at least 32 characters');
  if (e.METRICS_TOKEN !== undefined && e.METRICS_TOKEN.length < 32) problems.push('METRICS_TOKEN must be at least 32 characters');
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT === e.PORT) problems.push('METRICS_PORT must differ from PORT (unset it to serve /metrics on the app behind METRICS_TOKEN)');
  const database = parseDatabaseUrl(e.DATABASE_URL);
  if (typeof database === 'string') problems.push(database);
  if (e.DEMO_CLIENT_ID !== undefined && e.HYDRA_PUBLIC_URL === undefined) problems.push('HYDRA_PUBLIC_URL is required when DEMO_CLIENT_ID is set');
  if (e.ACCOUNT_ENABLED === true && e.HYDRA_PUBLIC_URL === undefined) problems.push('HYDRA_PUBLIC_URL is required when ACCOUNT_ENABLED=true (the account area signs people in through Hydra)');
  const accountClientId = e.ACCOUNT_CLIENT_ID ?? 'account';
  if (!/^[\x21-\x7e]{1,255}$/.test(accountClientId)) problems.push('ACCOUNT_CLIENT_ID must be 1 to 255 printable ASCII characters, without spaces');
  const registerAccountClient = e.ACCOUNT_CLIENT_REGISTER ?? true;
  if (!registerAccountClient && e.ACCOUNT_CLIENT_SECRET === undefined && e.ACCOUNT_ENABLED !== false && e.HYDRA_PUBLIC_URL !== undefined) {
    problems.push('ACCOUNT_CLIENT_SECRET is required when ACCOUNT_CLIENT_REGISTER=false (the secret of the client you registered)');
  }
  if (e.SMTP_URL !== undefined && !(/^smtps?:\/\/[^/]/i.test(e.SMTP_URL) && URL.canParse(e.SMTP_URL))) problems.push('SMTP_URL must be an smtp:// or smtps:// URL');
  if (e.SMTP_URL !== undefined && e.MAIL_FROM === undefined) problems.push('MAIL_FROM is required when SMTP_URL is set (e.g. "Sign-in <no-reply@example.com>")');
  if (e.MFA_ENCRYPTION_KEY !== undefined && e.MFA_ENCRYPTION_KEY.length < 32) problems.push('MFA_ENCRYPTION_KEY must be at least 32 characters');
  if (e.MFA_ENCRYPTION_KEY === undefined && production && e.MFA !== 'off' && e.SESSION_SECRET !== undefined) {
    problems.push('MFA_ENCRYPTION_KEY is required when NODE_ENV=production (it encrypts TOTP secrets); or set MFA=off');
  }
  const acrNames = [e.ACR_ONE_FACTOR, e.ACR_TWO_FACTOR, e.ACR_PHISHING_RESISTANT];
  if (new Set(acrNames).size !== acrNames.length) problems.push('ACR_ONE_FACTOR, ACR_TWO_FACTOR and ACR_PHISHING_RESISTANT must differ');
  if (problems.length > 0) throw new ConfigError(problems);
  if (e.MFA_ENCRYPTION_KEY === undefined && e.MFA !== 'off') {
    warnings.push(
      'MFA_ENCRYPTION_KEY is not set: TOTP secrets are encrypted with a key derived from SESSION_SECRET, so changing SESSION_SECRET ' +
        'makes every enrolled authenticator app and recovery code unusable. Set MFA_ENCRYPTION_KEY (required in production)',
    );
  }
  // Either way 32 bytes, and never the raw string: a key that is also a cookie secret is separated by HMAC.
  const mfaKey = createHmac('sha256', e.MFA_ENCRYPTION_KEY ?? sessionSecret).update('hlc mfa encryption key').digest();

  const base = new URL(e.BASE_URL ?? `http://localhost:${e.PORT}`);
  const basePath = base.pathname.replace(/\/+$/, '');
  const baseUrl = `${base.origin}${basePath}`;
  // Behind a TLS-terminating proxy BASE_URL is https; TRUST_PROXY alone means the proxy tells us.
  const secureCookies = base.protocol === 'https:';
  if (secureCookies && trustProxy === false) {
    // The app speaks plain http, so an https BASE_URL means a proxy in front of it.
    warnings.push(
      'BASE_URL is https but TRUST_PROXY is not set: behind a TLS-terminating proxy, set TRUST_PROXY (e.g. 1) ' +
        'or sessions get no cookie and every client shares the proxy\'s address in the sign-in rate limits',
    );
  }

  const demoEnabled = e.DEMO_CLIENT_ID !== undefined && (!production || e.DEMO_ENABLED);
  const accountEnabled = e.HYDRA_PUBLIC_URL !== undefined && e.ACCOUNT_ENABLED !== false;
  // One secret per deployment, from the one every instance already shares: no second secret to
  // distribute, and start-up registration keeps Hydra's copy in step when SESSION_SECRET rotates.
  const accountClientSecret = e.ACCOUNT_CLIENT_SECRET ?? createHmac('sha256', sessionSecret).update('hlc account client secret').digest('base64url');

  return {
    warnings,
    config: {
      production,
      port: e.PORT,
      host: e.HOST,
      hydra: {
        adminUrl: e.HYDRA_ADMIN_URL,
        apiVersion: e.HYDRA_API_VERSION,
        timeoutMs: e.HYDRA_TIMEOUT_MS,
        adminToken: e.HYDRA_ADMIN_TOKEN,
        publicUrl: e.HYDRA_PUBLIC_URL,
        publicInternalUrl: e.HYDRA_PUBLIC_INTERNAL_URL ?? e.HYDRA_PUBLIC_URL,
      },
      baseUrl,
      basePath,
      secureCookies,
      sessionSecret,
      database: { target: database as DatabaseTarget, description: describeTarget(database as DatabaseTarget) },
      usersFile: e.USERS_FILE,
      passwordPolicy: { minLength: e.PASSWORD_MIN_LENGTH },
      loginRememberFor: e.LOGIN_REMEMBER_FOR,
      consentRememberFor: e.CONSENT_REMEMBER_FOR,
      consentPreselectScopes: e.CONSENT_PRESELECT_SCOPES,
      defaultLocale: e.DEFAULT_LOCALE,
      trustProxy: trustProxy as TrustProxy,
      adminToken: e.ADMIN_TOKEN,
      redisUrl: e.REDIS_URL,
      logLevel: e.LOG_LEVEL,
      rateLimit: {
        perIp: e.LOGIN_RATE_LIMIT_PER_IP,
        perAccount: e.LOGIN_RATE_LIMIT_PER_ACCOUNT,
        windowMs: e.LOGIN_RATE_LIMIT_WINDOW * 1000,
      },
      passwordChecks: { concurrency: e.LOGIN_HASH_CONCURRENCY, queue: e.LOGIN_HASH_QUEUE, nice: e.LOGIN_HASH_NICE },
      shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT * 1000,
      requestTimeoutMs: e.REQUEST_TIMEOUT * 1000,
      metrics: {
        enabled: e.METRICS_TOKEN !== undefined || e.METRICS_PORT !== undefined,
        token: e.METRICS_TOKEN,
        port: e.METRICS_PORT,
        host: e.METRICS_HOST,
        clientLabel: e.METRICS_CLIENT_LABEL,
      },
      device: { uppercaseUserCode: e.DEVICE_USER_CODE_UPPERCASE },
      demo: demoEnabled
        ? {
            clientId: e.DEMO_CLIENT_ID!,
            clientSecret: e.DEMO_CLIENT_SECRET,
            m2mClientId: e.DEMO_M2M_CLIENT_ID,
            m2mClientSecret: e.DEMO_M2M_CLIENT_SECRET,
          }
        : undefined,
      account: accountEnabled
        ? { clientId: accountClientId, clientSecret: accountClientSecret, registerClient: registerAccountClient, reauthAfter: e.ACCOUNT_REAUTH_AFTER }
        : undefined,
      mail: e.SMTP_URL !== undefined && e.MAIL_FROM !== undefined ? { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM } : undefined,
      passwordResetTtl: e.PASSWORD_RESET_TTL,
      mfa: {
        mode: e.MFA,
        key: mfaKey,
        enrolOnDemand: e.MFA_ENROL_ON_DEMAND,
        acr: { oneFactor: e.ACR_ONE_FACTOR, twoFactor: e.ACR_TWO_FACTOR, phishingResistant: e.ACR_PHISHING_RESISTANT },
      },
    },
  };
}
