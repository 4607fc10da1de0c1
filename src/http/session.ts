import session, { Store, type SessionData } from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import { HttpError } from './errors.js';

export const SESSION_COOKIE = 'hlc_session';

/**
 * The session cookie's name and path. With an https BASE_URL it is `__Host-hlc_session` on `/`:
 * browsers take such a cookie only Secure and from this very host, so a sibling subdomain cannot
 * plant a session of its own choosing (cookie tossing, session fixation).
 */
export function sessionCookie(config: Config, baseName = SESSION_COOKIE): { name: string; path: string } {
  return config.secureCookies ? { name: `__Host-${baseName}`, path: '/' } : { name: baseName, path: config.basePath || '/' };
}
/** Admin console and demo sessions last a working day at most, sliding while in use. */
const SESSION_MAX_AGE_MS = 8 * 3600 * 1000;

/** The session store failed (Redis away): a clean 503 instead of a 500 or a hung request. */
export function sessionStoreUnavailable(cause: unknown): HttpError {
  return new HttpError(503, 'The session store is unavailable right now. Please try again in a moment.', {
    expose: true,
    title: 'Temporarily unavailable',
    code: 'session_store_unavailable',
    cause,
  });
}

/**
 * express-session for what is naturally a session: the admin console and the demo. The flows
 * never use it (their CSRF secret lives in a cookie), so an anonymous login page stores nothing.
 *
 * Cookie: sessionCookie(), HttpOnly, SameSite=Lax, 8 hours sliding. Secure when BASE_URL is https;
 * with TRUST_PROXY and an http BASE_URL, 'auto': Secure when the request came over https as the
 * trusted proxy reports it (req.secure, which honours the app's `trust proxy` list rather than
 * believing X-Forwarded-Proto from anyone, hence no `proxy: true` here).
 *
 * express-session passes a failed load to next(); it becomes a 503 here, as the shared store's
 * own errors already are.
 */
export function sessionMiddleware(config: Config, store: Store, cookieName = SESSION_COOKIE): RequestHandler {
  // `cookieName`: an area with its own sessions (the account area's `hlc_account`), so signing in
  // there regenerates nothing of an admin or demo session in the same browser, and vice versa.
  const cookie = sessionCookie(config, cookieName);
  const handler = session({
    name: cookie.name,
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.secureCookies ? true : config.trustProxy !== false ? 'auto' : false,
      path: cookie.path,
      maxAge: SESSION_MAX_AGE_MS,
    },
  });
  return (req, res, next) => {
    handler(req, res, (err?: unknown) => {
      if (!err) next();
      else next(err instanceof HttpError ? err : sessionStoreUnavailable(err));
    });
  };
}

interface Entry {
  data: SessionData;
  expiresAt: number;
}

/**
 * A per-process session store with a hard cap, for single-instance deployments and tests.
 * express-session's MemoryStore grows without bound and never sweeps; this one evicts the
 * least recently used session past `max` and drops expired ones as it meets them. No timers,
 * so building it has no side effects.
 */
export class BoundedMemoryStore extends Store {
  private readonly sessions = new Map<string, Entry>();

  constructor(private readonly max = 10_000) {
    super();
  }

  get size(): number {
    return this.sessions.size;
  }

  private expiry(data: SessionData): number {
    const expires = data.cookie?.expires;
    if (expires) return new Date(expires).getTime();
    return Date.now() + (data.cookie?.maxAge ?? SESSION_MAX_AGE_MS);
  }

  override get(sid: string, callback: (err: unknown, session?: SessionData | null) => void): void {
    const entry = this.sessions.get(sid);
    if (!entry) return callback(null, null);
    this.sessions.delete(sid);
    if (entry.expiresAt <= Date.now()) return callback(null, null);
    this.sessions.set(sid, entry); // most recently used goes last
    // A copy, as a networked store would return: the caller's edits only count once saved.
    callback(null, structuredClone(entry.data));
  }

  override set(sid: string, data: SessionData, callback?: (err?: unknown) => void): void {
    this.sessions.delete(sid);
    this.sessions.set(sid, { data: structuredClone(data), expiresAt: this.expiry(data) });
    this.evict();
    callback?.();
  }

  override touch(sid: string, data: SessionData, callback?: () => void): void {
    const entry = this.sessions.get(sid);
    if (entry) entry.expiresAt = this.expiry(data);
    callback?.();
  }

  override destroy(sid: string, callback?: (err?: unknown) => void): void {
    this.sessions.delete(sid);
    callback?.();
  }

  private evict(): void {
    const now = Date.now();
    for (const [sid, entry] of this.sessions) {
      if (this.sessions.size <= this.max && entry.expiresAt > now) break;
      // Oldest first: expired entries and, past the cap, the least recently used.
      if (this.sessions.size > this.max || entry.expiresAt <= now) this.sessions.delete(sid);
    }
  }
}
