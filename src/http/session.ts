import session, { Store, type SessionData } from 'express-session';
import type { RequestHandler } from 'express';
import type { Config } from '../config.js';

export const SESSION_COOKIE = 'hlc_session';
/** Admin console and demo sessions last a working day at most, sliding while in use. */
const SESSION_MAX_AGE_MS = 8 * 3600 * 1000;

/**
 * express-session for what is naturally a session: the admin console and the demo. The flows
 * never use it (their CSRF secret lives in a cookie), so an anonymous login page stores nothing.
 */
export function sessionMiddleware(config: Config, store: Store): RequestHandler {
  return session({
    name: SESSION_COOKIE,
    secret: config.sessionSecret,
    store,
    resave: false,
    saveUninitialized: false,
    rolling: true,
    // Behind a TLS-terminating proxy, req.secure (from X-Forwarded-Proto) decides.
    proxy: config.trustProxy !== false ? true : undefined,
    cookie: {
      httpOnly: true,
      sameSite: 'lax',
      secure: config.secureCookies ? true : config.trustProxy !== false ? 'auto' : false,
      path: config.basePath || '/',
      maxAge: SESSION_MAX_AGE_MS,
    },
  });
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
