import type { Request } from 'express';
import type { SessionData, Store } from 'express-session';
import { createHash } from 'node:crypto';

/**
 * What the account area keeps in its server-side session (cookie `hlc_account`, apart from the
 * admin console's and the demo's `hlc_session`, so signing in here regenerates nothing of theirs),
 * and the "signed out everywhere" markers that end every other /account session of a person.
 */

/** The account area's own session cookie (see sessionMiddleware). */
export const ACCOUNT_SESSION_COOKIE = 'hlc_account';

export interface AccountSession {
  /** Row id in the user database (Account.id). */
  userId: string;
  /** The subject Hydra signed in (the ID token's `sub`). */
  subject: string;
  /** For RP-initiated logout (id_token_hint). Never shown, never logged. */
  idToken: string;
  /**
   * When this session was signed in (epoch ms), moved forward when the person changes their
   * password here. A password changed later (by an admin's link, in another browser) or a
   * "sign out everywhere" after it ends the session at its next request.
   */
  authAt: number;
  /**
   * When the person last proved who they are at Hydra (epoch ms): the ID token's `auth_time`, which
   * a remembered Hydra session keeps from its first sign-in. Second factors change only while it
   * is recent (ACCOUNT_REAUTH_AFTER).
   */
  verifiedAt: number;
}

declare module 'express-session' {
  interface SessionData {
    account?: AccountSession;
  }
}

export function signedIn(req: Request): boolean {
  return req.session?.account !== undefined;
}

function call(run: (done: (err?: unknown) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => run((err) => (err ? reject(err) : resolve())));
}

/** A fresh session id (and no earlier data): what sign-in does against session fixation. */
export const regenerateSession = (req: Request) => call((done) => req.session.regenerate(done));
/** Resolves once the session is in the store, so the redirect that follows finds it there. */
export const saveSession = (req: Request) => call((done) => req.session.save(done));
export const destroySession = (req: Request) => call((done) => req.session.destroy(done));

// ---- "Signed out everywhere" markers -----------------------------------------------------------
//
// Hydra revokes its own login sessions by subject, but it knows nothing of this app's /account
// sessions, and a session store cannot be searched by person. So sign-out-everywhere leaves a
// marker beside the sessions, in the same store (per-process, or Redis shared by every instance):
// "sessions of this subject signed in before T are over". It lives as long as an idle session
// may (8 hours, sliding): a session still alive after that has made a request in between, and
// met the marker then. The key holds a digest of the subject, and no session id looks like it.

const MARKER_TTL_MS = 8 * 3600 * 1000;

function markerKey(subject: string): string {
  return `account-signed-out:${createHash('sha256').update(subject).digest('base64url')}`;
}

interface MarkerData {
  cookie: { originalMaxAge: number; expires: Date };
  signedOutAt: number;
}

/** Every /account session of `subject` that signed in before `at` ends at its next request. */
export function endAccountSessions(store: Store, subject: string, at = Date.now()): Promise<void> {
  const data: MarkerData = { cookie: { originalMaxAge: MARKER_TTL_MS, expires: new Date(at + MARKER_TTL_MS) }, signedOutAt: at };
  return call((done) => store.set(markerKey(subject), data as unknown as SessionData, done));
}

/** When `subject` last signed out everywhere (epoch ms), if within the marker's lifetime. */
export function accountSessionsEndedAt(store: Store, subject: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    store.get(markerKey(subject), (err: unknown, data?: SessionData | null) => {
      if (err) return reject(err);
      const at = (data as unknown as Partial<MarkerData> | null | undefined)?.signedOutAt;
      resolve(typeof at === 'number' ? at : undefined);
    });
  });
}
