import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { Request, Response } from 'express';
import type { Config } from '../config.js';

/**
 * The state between the password step and the second step of one sign-in: a signed cookie, so
 * the anonymous login pages still store nothing server-side. HMAC-SHA256 under a key derived
 * from SESSION_SECRET; HttpOnly, SameSite=Lax, Secure over https, scoped to /login, and good for
 * STATE_TTL_MS. It is bound to the login challenge (a digest of it) and names the account whose
 * password was just proved: without it, the second step answers 403 whatever is posted, and a
 * state made for another challenge is refused the same way.
 */

export const LOGIN_STATE_COOKIE = 'hlc_login_mfa';
/** Ten minutes to find the phone; Hydra's login request itself lasts 30 by default. */
export const STATE_TTL_MS = 10 * 60 * 1000;

export interface LoginState {
  /** sha256(challenge), base64url. */
  c: string;
  /** Account id, subject, email (for the enrolment label and logs). */
  u: string;
  s: string;
  e: string;
  /** "Keep me signed in". */
  r: boolean;
  /** The methods proved so far (amr values): ['pwd'], or what a remembered session reached. */
  m: string[];
  /** Expiry, epoch ms. */
  x: number;
  /** Enrolment at sign-in: the pending TOTP secret, sealed (src/mfa/secrets.ts). */
  k?: string;
  /** Enrolment done, recovery codes shown: what is left is the accept. */
  d?: boolean;
  /** Makes every state unique. */
  n: string;
}

export type StateProblem = 'no-password-step' | 'tampered' | 'expired' | 'other-challenge';

const digest = (challenge: string) => createHash('sha256').update(challenge, 'utf8').digest('base64url');
const stateKey = (config: Pick<Config, 'sessionSecret'>) => createHmac('sha256', config.sessionSecret).update('hlc login mfa state').digest();

function sign(config: Pick<Config, 'sessionSecret'>, body: string): string {
  return createHmac('sha256', stateKey(config)).update(body).digest('base64url');
}

function cookiePath(config: Pick<Config, 'basePath'>): string {
  return `${config.basePath}/login`;
}

export function newLoginState(challenge: string, fields: Omit<LoginState, 'c' | 'x' | 'n'>, now = Date.now()): LoginState {
  return { ...fields, c: digest(challenge), x: now + STATE_TTL_MS, n: randomBytes(9).toString('base64url') };
}

export function writeLoginState(config: Pick<Config, 'sessionSecret' | 'basePath' | 'secureCookies'>, res: Response, state: LoginState): void {
  const body = Buffer.from(JSON.stringify(state), 'utf8').toString('base64url');
  const value = `${body}.${sign(config, body)}`;
  res.cookie(LOGIN_STATE_COOKIE, value, { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: cookiePath(config), maxAge: STATE_TTL_MS });
}

export function clearLoginState(config: Pick<Config, 'basePath' | 'secureCookies'>, res: Response): void {
  res.clearCookie(LOGIN_STATE_COOKIE, { httpOnly: true, sameSite: 'lax', secure: config.secureCookies, path: cookiePath(config) });
}

/** The state for this challenge, or why there is none. */
export function readLoginState(
  config: Pick<Config, 'sessionSecret'>,
  req: Request,
  challenge: string,
  now = Date.now(),
): { state: LoginState } | { problem: StateProblem; state?: LoginState } {
  const raw = req.headers.cookie ? parseCookies(req.headers.cookie)[LOGIN_STATE_COOKIE] : undefined;
  if (!raw) return { problem: 'no-password-step' };
  const [body, mac] = raw.split('.');
  if (!body || !mac) return { problem: 'tampered' };
  const expected = Buffer.from(sign(config, body));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return { problem: 'tampered' };
  let state: LoginState;
  try {
    state = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LoginState;
  } catch {
    return { problem: 'tampered' };
  }
  if (typeof state.x !== 'number' || state.x < now) return { problem: 'expired', state };
  if (state.c !== digest(challenge)) return { problem: 'other-challenge', state };
  return { state };
}

/**
 * The WebAuthn challenge of a passkey step on the login page: its own signed cookie, bound to
 * the login challenge like the state, valid for STATE_TTL_MS. It holds no account: which account
 * a passkey belongs to is the credential's answer (or the state's, as a second factor).
 */
export const WEBAUTHN_COOKIE = 'hlc_login_wa';

export function writeWebAuthnChallenge(config: Pick<Config, 'sessionSecret' | 'basePath' | 'secureCookies'>, res: Response, loginChallenge: string, challenge: string, now = Date.now()): void {
  const body = Buffer.from(JSON.stringify({ c: digest(loginChallenge), w: challenge, x: now + STATE_TTL_MS }), 'utf8').toString('base64url');
  res.cookie(WEBAUTHN_COOKIE, `${body}.${sign(config, `wa.${body}`)}`, { httpOnly: true, sameSite: 'strict', secure: config.secureCookies, path: cookiePath(config), maxAge: STATE_TTL_MS });
}

export function readWebAuthnChallenge(config: Pick<Config, 'sessionSecret'>, req: Request, loginChallenge: string, now = Date.now()): string | undefined {
  const raw = req.headers.cookie ? parseCookies(req.headers.cookie)[WEBAUTHN_COOKIE] : undefined;
  const [body, mac] = raw?.split('.') ?? [];
  if (!body || !mac) return undefined;
  const expected = Buffer.from(sign(config, `wa.${body}`));
  const given = Buffer.from(mac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as { c?: unknown; w?: unknown; x?: unknown };
    return value.c === digest(loginChallenge) && typeof value.x === 'number' && value.x >= now && typeof value.w === 'string' ? value.w : undefined;
  } catch {
    return undefined;
  }
}

export function clearWebAuthnChallenge(config: Pick<Config, 'basePath' | 'secureCookies'>, res: Response): void {
  res.clearCookie(WEBAUTHN_COOKIE, { httpOnly: true, sameSite: 'strict', secure: config.secureCookies, path: cookiePath(config) });
}
