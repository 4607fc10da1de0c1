import { createHmac } from 'node:crypto';
import { parse as parseCookies } from 'cookie';
import type { Request, Response } from 'express';
import { EncryptJWT, jwtDecrypt } from 'jose';
import type { Config } from '../config.js';

/**
 * The sign-in in flight (state, nonce, PKCE verifier, where to go afterwards) rides in an
 * encrypted, HttpOnly cookie rather than in a session: an anonymous visit to /account stores
 * nothing server-side, so nobody can fill the session store by loading it, and the session is
 * only created, with a fresh id, once the callback has proved who came back.
 *
 * The cookie is a JWE (dir + A256GCM, key derived from SESSION_SECRET): its content cannot be
 * read or altered in the browser, and it expires with the sign-in after 15 minutes. SameSite=Lax,
 * because Hydra's redirect back is a top-level GET from another site.
 */

export const FLOW_COOKIE = 'hlc_account_signin';
const FLOW_TTL_SECONDS = 15 * 60;

export interface PendingSignIn {
  state: string;
  nonce: string;
  codeVerifier: string;
  /** A path of the account area to land on afterwards. */
  returnTo: string;
}

function cookieOf(config: Config, req: Request): { name: string; path: string; secure: boolean } {
  // __Host- with an https BASE_URL (only this host can set it, Path=/); otherwise plain, and
  // Secure when a trusted proxy says the request came over https.
  if (config.secureCookies) return { name: `__Host-${FLOW_COOKIE}`, path: '/', secure: true };
  return { name: FLOW_COOKIE, path: `${config.basePath}/account`, secure: config.trustProxy !== false && req.secure };
}

function keyOf(config: Config): Uint8Array {
  return createHmac('sha256', config.sessionSecret).update('hlc account sign-in cookie').digest();
}

export async function setPendingSignIn(config: Config, req: Request, res: Response, pending: PendingSignIn): Promise<void> {
  const sealed = await new EncryptJWT({ ...pending })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt()
    .setExpirationTime(`${FLOW_TTL_SECONDS}s`)
    .encrypt(keyOf(config));
  const { name, path, secure } = cookieOf(config, req);
  res.cookie(name, sealed, { httpOnly: true, sameSite: 'lax', secure, path, maxAge: FLOW_TTL_SECONDS * 1000 });
}

/** The pending sign-in, once: the cookie is cleared whatever it held. Undefined when absent, expired or not ours. */
export async function takePendingSignIn(config: Config, req: Request, res: Response): Promise<PendingSignIn | undefined> {
  const { name, path, secure } = cookieOf(config, req);
  const raw = req.headers.cookie ? parseCookies(req.headers.cookie)[name] : undefined;
  if (raw === undefined) return undefined;
  res.clearCookie(name, { httpOnly: true, sameSite: 'lax', secure, path });
  try {
    const { payload } = await jwtDecrypt(raw, keyOf(config));
    const { state, nonce, codeVerifier, returnTo } = payload;
    if (typeof state !== 'string' || typeof nonce !== 'string' || typeof codeVerifier !== 'string' || typeof returnTo !== 'string') return undefined;
    return { state, nonce, codeVerifier, returnTo };
  } catch {
    return undefined;
  }
}
