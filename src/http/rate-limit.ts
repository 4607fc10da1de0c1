import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { MemoryStore, rateLimit, type Options, type Store } from 'express-rate-limit';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import type { Config } from '../config.js';
import type { RedisConnection } from '../redis.js';
import { HttpError } from './errors.js';

/** Every rate-limit counter in Redis starts with this. */
export const RATE_LIMIT_PREFIX = 'hlc:rl:';

/** A 429 that says when to come back; the error handler turns `retryAfter` into Retry-After. */
export class TooManyAttemptsError extends HttpError {
  constructor(readonly retryAfter: number) {
    const minutes = Math.max(1, Math.ceil(retryAfter / 60));
    super(429, `Too many failed sign-in attempts. Please try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, {
      title: 'Too many attempts',
    });
  }
}

/** The counters cannot be read: sign-in fails closed rather than letting guesses through. */
export function limitStoreUnavailable(cause: unknown): HttpError {
  return new HttpError(503, 'Signing in is briefly unavailable because the store that counts sign-in attempts cannot be reached. Please try again in a moment.', {
    expose: true,
    title: 'Temporarily unavailable',
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
    this.inner.init?.(options);
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

/**
 * A fresh counter store for one limiter (express-rate-limit refuses to share one): in Redis under
 * hlc:rl:<name>: when there is a connection, so every instance counts together; otherwise in
 * this process. Either way a store failure is a 503, never a free pass.
 */
export function rateLimitStore(name: string, redis?: RedisConnection): Store {
  if (!redis) return new FailClosedStore(new MemoryStore());
  const store = new RedisStore({
    prefix: `${RATE_LIMIT_PREFIX}${name}:`,
    sendCommand: (...args: string[]) => redis.client.sendCommand(args) as Promise<RedisReply>,
  });
  // The constructor sends SCRIPT LOAD and keeps the promises; if Redis is not there yet they
  // reject with nobody listening. Each increment reloads a failed script, so ignoring is safe.
  store.incrementScriptSha.catch(() => {});
  store.getScriptSha.catch(() => {});
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
      const resetTime = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
      const ms = resetTime ? resetTime.getTime() - Date.now() : windowMs;
      next(new TooManyAttemptsError(Math.max(1, Math.ceil(ms / 1000))));
    },
  } satisfies Partial<Options>;

  const limits: RequestHandler[] = [
    rateLimit({ ...common, limit: perIp, store: rateLimitStore(`${options.name}:ip`, options.redis) }),
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

/** POST /login: per IP, and per account keyed by the email the form sends. */
export function loginLimits(config: Pick<Config, 'rateLimit'>, redis?: RedisConnection): RequestHandler[] {
  return bruteForceLimits(config, {
    name: 'login',
    redis,
    account: (req) => normaliseAccount((req.body as Record<string, unknown> | undefined)?.email),
  });
}
