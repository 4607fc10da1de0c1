import type { Session, SessionData } from 'express-session';

/**
 * What the demo keeps in the server-side session (never in a cookie, never in a log): the checks
 * for the one authorization in flight, and the tokens of the last sign-in.
 */
export interface DemoPending {
  state: string;
  nonce: string;
  codeVerifier: string;
  scope: string;
  /** Seconds, when max_age was requested: openid-client then checks the ID token's auth_time. */
  maxAge?: number;
  startedAt: number;
}

export interface DemoTokens {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  scope?: string;
  /** Epoch seconds. */
  expiresAt?: number;
  subject?: string;
}

export interface DemoSessionData {
  pending?: DemoPending;
  tokens?: DemoTokens;
  /** The state sent to Hydra's end_session endpoint, checked at /demo/logged-out. */
  logoutState?: string;
}

declare module 'express-session' {
  interface SessionData {
    demo?: DemoSessionData;
  }
}

type WithSession = { session: Session & Partial<SessionData> };

/** The demo's part of the session, created on first write. */
export function demoSession(req: WithSession): DemoSessionData {
  req.session.demo ??= {};
  return req.session.demo;
}

/** Resolves once the session is in the store, so the redirect that follows finds it there. */
export function saveSession(req: WithSession): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
}
