import { HttpError } from '../http/errors.js';

/**
 * Hydra's challenges are opaque strings. v1.11–v2.1 ones are 32 hex characters; v2.2+ ones are
 * AEAD blobs that carry the flow's state, so they grow with the authorization request: on a real
 * Hydra v2.3.0 a 16-character `state` gives a ~1.0 kB challenge, a random 4000-character one
 * ~5.2–5.4 kB, 9000 characters ~10.2 kB (about the request's length plus 1 kB). The bound is
 * Node's default header limit (--max-http-header-size, 16 KiB), which the request line of a
 * GET /login?login_challenge=… must fit in with every header: no longer challenge can arrive
 * by GET (Node answers 431 first), and the POSTed form that carries it back is capped at 16 kB.
 */
export const MAX_CHALLENGE_LENGTH = 16 * 1024;

/**
 * The only place a challenge is read. A missing, empty, repeated (?x=a&x=b gives an array) or
 * oversized value is a 400 and Hydra is never called: `String(undefined)` is "undefined", which
 * is how the reference app ends up asking Hydra for a challenge called "undefined".
 */
export function readChallenge(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new HttpError(400, `This page needs a ${name}. Open it through the application you were signing in to.`, {
      title: 'Sign-in request missing',
      i18n: { title: 'challenge.missing_title', message: 'challenge.missing', values: { name } },
    });
  }
  if (value.length > MAX_CHALLENGE_LENGTH) {
    throw new HttpError(400, `The ${name} is too long to be genuine. Go back to the application and start again.`, {
      title: 'Sign-in request not valid',
      i18n: { title: 'challenge.too_long_title', message: 'challenge.too_long', values: { name } },
    });
  }
  return value;
}

/** A single-valued form or query field, or undefined: arrays and objects are not strings. */
export function readString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A checkbox: present and not "false"/"0". */
export function readCheckbox(value: unknown): boolean {
  return typeof value === 'string' && value !== '' && value !== 'false' && value !== '0';
}

/** A repeatable field (name=a&name=b) as a list of strings; anything else is dropped. */
export function readStringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string');
  return [];
}
