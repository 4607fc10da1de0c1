import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { MemoryStore, rateLimit, type Options, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Config } from '../config.js';
import type { RedisConnection } from '../redis.js';
import { HttpError } from './errors.js';

/** Every rate-limit counter in Redis starts with this. */
export const RATE_LIMIT_PREFIX = 'hlc:rl:';

/**
 * The per-IP counters count an IPv6 client by its /64, the smallest block a network hands one
 * customer, so rotating through one's own addresses buys nothing. express-rate-limit's
 * ipKeyGenerator makes the key: an IPv4-mapped address (`::ffff:1.2.3.4`, what a dual-stack
 * socket reports) counts as its IPv4 address.
 */
export const IPV6_SUBNET = 64;

/** A 429 that says when to come back; the error handler turns `retryAfter` into Retry-After. */
export class TooManyAttemptsError extends HttpError {
  constructor(readonly retryAfter: number) {
    const minutes = Math.max(1, Math.ceil(retryAfter / 60));
    super(429, `Too many failed sign-in attempts. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, {
      title: 'Too many attempts',
      i18n: { title: 'login.too_many_title', message: 'login.too_many', values: { count: minutes } },
    });
  }
}

/** The counters cannot be read: sign-in fails closed rather than letting guesses through. */
export function limitStoreUnavailable(cause: unknown): HttpError {
  return new HttpError(503, 'Signing in is briefly unavailable because the store that counts sign-in attempts cannot be reached. Please try again in a moment.', {
    expose: true,
    title: 'Temporarily unavailable',
    i18n: { title: 'login.limit_unavailable_title', message: 'login.limit_unavailable' },
    code: 'rate_limit_store_unavailable',
    cause,
  });
}

/**
 * Wraps a counter store so that Redis trouble has a clear outcome. increment() failing is a 503
 * (fail closed: with `passOnStoreError` an attacker who can upset Redis could guess freely).
 * decrement() runs in a response 'finish' listener, where a rejection would be unhandled and
 * end the process; losing one only overcounts until the window ends, so it is dropped.
 */
class FailClosedStore implements Store {
  readonly localKeys?: boolean;
  readonly prefix?: string;

  constructor(private readonly inner: Store) {
    this.localKeys = inner.localKeys;
    this.prefix = inner.prefix;
  }

  init(options: Options): void {
    // A store whose init() is async would otherwise reject with nobody listening.
    Promise.resolve(this.inner.init?.(options)).catch(() => {});
  }

  async increment(key: string) {
    try {
      return await this.inner.increment(key);
    } catch (err) {
      throw limitStoreUnavailable(err);
    }
  }

  async decrement(key: string): Promise<void> {
    try {
      await this.inner.decrement(key);
    } catch {
      // see the class comment
    }
  }

  async resetKey(key: string): Promise<void> {
    try {
      await this.inner.resetKey(key);
    } catch (err) {
      throw limitStoreUnavailable(err);
    }
  }
}

/** The promise, with a listener so that a rejection nobody awaits does not end the process. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/**
 * rate-limit-redis 6 loads its Lua scripts in init() and, when that SCRIPT LOAD fails (Redis not
 * reachable yet at start-up), keeps the rejected promise: it reloads a script only after a
 * NOSCRIPT reply, so every later increment would fail until a restart. This one loads the script
 * again on the next increment whenever the last load failed, and never leaves a rejection unheard.
 */
class ReloadingRedisStore extends RedisStore {
  private incrementScriptFailed = false;

  private loadIncrement(): Promise<string> {
    this.incrementScriptFailed = false;
    return quiet(
      this.loadIncrementScript().catch((err: unknown) => {
        this.incrementScriptFailed = true;
        throw err;
      }),
    );
  }

  override async init(options: Options): Promise<void> {
    this.windowMs = options.windowMs;
    this.incrementScriptSha = this.loadIncrement();
    this.getScriptSha = quiet(this.loadGetScript());
  }

  override async retryableIncrement(key: string): Promise<RedisReply> {
    if (this.incrementScriptFailed) this.incrementScriptSha = this.loadIncrement();
    return super.retryableIncrement(key);
  }
}

/**
 * A fresh counter store for one limiter (express-rate-limit refuses to share one): in Redis under
 * hlc:rl:<name>: when there is a connection, so every instance counts together; otherwise in
 * this process. Either way a store failure is a 503, never a free pass. Each Redis round trip is
 * cut at the connection's deadline, so a hung Redis is a quick 503 too.
 */
export function rateLimitStore(name: string, redis?: RedisConnection): Store {
  if (!redis) return new FailClosedStore(new MemoryStore());
  const store = new ReloadingRedisStore({
    prefix: `${RATE_LIMIT_PREFIX}${name}:`,
    sendCommand: (...args: string[]) => redis.bounded(redis.client.sendCommand(args) as Promise<RedisReply>),
  });
  return new FailClosedStore(store);
}

/** Lower-cased and trimmed, as the user store compares addresses. */
export function normaliseAccount(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const account = value.trim().toLowerCase();
  return account === '' ? undefined : account;
}

/** Counter keys hold a digest, so Redis never stores the addresses people typed. */
function accountKey(account: string): string {
  return createHash('sha256').update(account).digest('base64url');
}

export interface BruteForceOptions {
  /** Names this set of counters, e.g. 'login' or 'admin-login' (Redis keys hlc:rl:<name>:ip:…). */
  name: string;
  /** Shares the counters between instances; without it they are per process. */
  redis?: RedisConnection;
  /** The account a request tries, normalised; undefined skips the per-account limit. */
  account?: (req: Request) => string | undefined;
  /** Which answers are failed attempts, the only ones that count. Default: a 401. */
  failed?: (res: Response) => boolean;
  /** Called for each request turned away with a 429 (the metrics count them). */
  onLimited?: (req: Request) => void;
}

/**
 * Brute-force limits for a credential-checking POST: one counter per client IP and, when
 * `account` is given, one per account, each allowing config.rateLimit.perIp / perAccount
 * failures per window. A request is counted before the handler runs (so parallel guesses cannot
 * overtake the check) and un-counted when it did not fail. Past the limit the answer is a 429
 * that says when to try again. Put it after the body parser and CSRF check.
 */
export function bruteForceLimits(config: Pick<Config, 'rateLimit'>, options: BruteForceOptions): RequestHandler[] {
  const { perIp, perAccount, windowMs } = config.rateLimit;
  const failed = options.failed ?? ((res: Response) => res.statusCode === 401);
  const common = {
    windowMs,
    // No RateLimit-* headers: a guesser need not know how many tries remain.
    standardHeaders: false,
    legacyHeaders: false,
    skipSuccessfulRequests: true,
    requestWasSuccessful: (_req: Request, res: Response) => !failed(res),
    handler: (req: Request, _res: unknown, next: (err: unknown) => void) => {
      options.onLimited?.(req);
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const ms = resetTime ? resetTime.getTime() - Date.now() : windowMs;
      next(new TooManyAttemptsError(Math.max(1, Math.ceil(ms / 1000))));
    },
  } satisfies Partial<Options>;

  const limits: RequestHandler[] = [
    // The default key generator: ipKeyGenerator(req.ip, IPV6_SUBNET), plus express-rate-limit's
    // warnings about a trust proxy setting that does not match the X-Forwarded-For it sees.
    rateLimit({ ...common, limit: perIp, ipv6Subnet: IPV6_SUBNET, store: rateLimitStore(`${options.name}:ip`, options.redis) }),
  ];
  const { account } = options;
  if (account) {
    limits.push(
      rateLimit({
        ...common,
        limit: perAccount,
        store: rateLimitStore(`${options.name}:account`, options.redis),
        skip: (req) => account(req) === undefined,
        keyGenerator: (req) => accountKey(account(req) ?? ''),
      }),
    );
  }
  return limits;
}

/**
 * What a POST /login came to, as the handler records it (res.locals.loginOutcome):
 * `wrong` a password check failed; `verified` it passed; `denied` the person pressed "Deny";
 * `busy` it was refused unchecked because too many checks were running (a 503 that cost nothing).
 */
export type LoginOutcome = 'wrong' | 'verified' | 'denied' | 'busy';

export function recordLoginOutcome(res: Response, outcome: LoginOutcome): void {
  res.locals.loginOutcome = outcome;
}

/**
 * A login POST is a failed attempt unless it proved the password, was a "Deny", or was turned
 * away unchecked, whatever the status it ended with: a wrong password is counted even when the
 * answer is not a 401, and so is a POST whose challenge Hydra does not know (404), has expired
 * (410) or already handled (302), since those never reach the password check at all. Not
 * counted: a 429 (refused unchecked, like `busy`), and our own or Hydra's faults (5xx: Hydra
 * down, counters unreachable), which are not held against the person.
 */
export function loginAttemptFailed(res: Response): boolean {
  const outcome = res.locals.loginOutcome as LoginOutcome | undefined;
  if (outcome === 'wrong') return true;
  if (outcome !== undefined) return false;
  return res.statusCode < 500 && res.statusCode !== 429;
}

/** POST /login: per IP, and per account keyed by the email the form sends. */
export function loginLimits(config: Pick<Config, 'rateLimit'>, redis?: RedisConnection, onLimited?: (req: Request) => void): RequestHandler[] {
  return bruteForceLimits(config, {
    name: 'login',
    redis,
    account: (req) => normaliseAccount((req.body as Record<string, unknown> | undefined)?.email),
    failed: loginAttemptFailed,
    onLimited,
  });
}

/**
 * What a POST /device came to (res.locals.deviceOutcome): `wrong` Hydra refused the user code;
 * `accepted` it took it; `empty` nothing was typed, so no code was tried.
 */
export type DeviceOutcome = 'wrong' | 'accepted' | 'empty';

export function recordDeviceOutcome(res: Response, outcome: DeviceOutcome): void {
  res.locals.deviceOutcome = outcome;
}

/**
 * A user-code attempt is a failed one unless Hydra accepted the code or none was typed. As with
 * logins, a POST that ends otherwise (an unknown or expired device challenge) counts too, and
 * neither a 429 nor our or Hydra's faults (5xx) do.
 */
export function deviceAttemptFailed(res: Response): boolean {
  const outcome = res.locals.deviceOutcome as DeviceOutcome | undefined;
  if (outcome === 'wrong') return true;
  if (outcome !== undefined) return false;
  return res.statusCode < 500 && res.statusCode !== 429;
}

/**
 * POST /device: user-code guesses per client IP, within LOGIN_RATE_LIMIT_PER_IP failures per
 * LOGIN_RATE_LIMIT_WINDOW, on counters of their own (hlc:rl:device:ip:…). A user code is short
 * (Hydra's presets: 8 letters and digits, or 9 digits), and Hydra does not limit guesses itself
 * (its rfc8628 ShouldRateLimit is a stub answering false), so this is the limit there is.
 */
export function deviceLimits(config: Pick<Config, 'rateLimit'>, redis?: RedisConnection, onLimited?: (req: Request) => void): RequestHandler[] {
  return bruteForceLimits(config, { name: 'device', redis, failed: deviceAttemptFailed, onLimited });
}
