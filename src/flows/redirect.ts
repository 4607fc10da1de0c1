import type { Response } from 'express';
import { HttpError } from '../http/errors.js';
import { safeHttpUrl } from '../http/urls.js';

/** Sends the browser where Hydra said, after checking Hydra said an http(s) URL. */
export function redirectAsHydraSays(res: Response, redirectTo: string): void {
  const target = safeHttpUrl(redirectTo);
  if (!target) throw new HttpError(502, 'The authorization server answered with an unusable redirect.', { expose: true });
  res.redirect(302, target);
}

/** Hydra's rejection for "the person said no"; without `error` Hydra would send "login request denied". */
export const DENIED = { error: 'access_denied', error_description: 'The resource owner denied the request' } as const;
