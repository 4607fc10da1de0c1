import type { Response } from 'express';
import { HttpError } from '../http/errors.js';
import { safeHttpUrl } from '../http/urls.js';

/** Hydra's redirect_to, once checked to be an http(s) URL (otherwise a 502). */
export function hydraRedirectTarget(redirectTo: string): string {
  const target = safeHttpUrl(redirectTo);
  if (!target) throw new HttpError(502, 'The authorization server answered with an unusable redirect.', { expose: true });
  return target;
}

/** Sends the browser where Hydra said. */
export function redirectAsHydraSays(res: Response, redirectTo: string): void {
  res.redirect(302, hydraRedirectTarget(redirectTo));
}

/** Hydra's rejection for "the person said no"; without `error` Hydra would send "login request denied". */
export const DENIED = { error: 'access_denied', error_description: 'The resource owner denied the request' } as const;
